/**
 * PASSTHROUGH-2 (PASSTHROUGH-4) — the model in a Bedrock path is mapped to the gateway's catalogue before anything
 * else: a foundation-model id (`anthropic.…-v1:0`), a cross-region inference profile (`us.`, `eu.`, `global.`), an
 * inference-profile ARN (path-encoded, as the AWS SDKs send it), a profile id unescaped in the path (as Claude Code
 * sends it), and a dated id whose date the catalogue does not list (resolved as its undated id). Each is served by
 * the catalogue model it names — the upstream is sent that model's id (the streaming operation maps the same way;
 * `passthrough/bedrock-stream` checks it for an inference profile). With `routing` declared, the provider model id
 * of a routed model's Bedrock target is also its catalogue model, served through that model's routes (a provider
 * mock answers it, not the Anthropic one). A Bedrock id that maps to no catalogue model is refused (400) without
 * contacting an upstream (the shape of that refusal is `passthrough/bedrock-errors`' business).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import {
  bedrockBody,
  expectMessageAnswer,
  expectNoUpstream,
  expectServedByRoute,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

/** [Bedrock model id, the catalogue model it means, whether the path carries it percent-encoded]. */
const MAPPINGS: ReadonlyArray<readonly [string, string, boolean]> = [
  ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929', true],
  ['us.anthropic.claude-opus-4-1-20250805-v1:0', 'claude-opus-4-1', true],
  ['eu.anthropic.claude-sonnet-4-5-v1:0', 'claude-sonnet-4-5', true],
  [
    'arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0',
    'claude-haiku-4-5',
    true,
  ],
  // As Claude Code in Bedrock mode sends an inference-profile id: unescaped.
  ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929', false],
];

export default defineCase({
  id: 'passthrough/bedrock-model-ids',
  title: 'Bedrock model ids, inference profiles and ARNs map to the catalogue',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-2', 'PASSTHROUGH-4'],
  timeoutMs: 30_000,
  async run(ctx) {
    for (const [id, model, encode] of MAPPINGS) {
      resetUpstreams(ctx);
      const what = `InvokeModel for ${id}${encode ? '' : ' (unescaped in the path)'}`;
      await expectMessageAnswer(await sendBedrock(ctx, id, false, { body: bedrockBody(ctx), encode }), what);
      const upstream = await upstreamMessage(ctx, what);
      expectThat(
        upstream.json.model === model,
        `${what}: must be served as the catalogue model ${model}, but the upstream was sent model ${JSON.stringify(upstream.json.model)}`,
      );
    }

    const route = ctx.policy.providerRoutes?.find((r) => r.targets[0]?.mock === 'bedrock');
    const target = route?.targets[0];
    if (!ctx.gateway.features.includes('routing') || !route || !target) {
      ctx.note('routing not declared: the mapping of a routed target’s Bedrock id was not checked');
    } else {
      resetUpstreams(ctx);
      const what = `InvokeModel for ${target.upstreamModel}, the Bedrock target of ${route.model}`;
      await expectMessageAnswer(
        await sendBedrock(ctx, target.upstreamModel, false, { body: bedrockBody(ctx) }),
        what,
      );
      expectServedByRoute(ctx, route, what);
    }

    for (const stream of [false, true]) {
      resetUpstreams(ctx);
      const id = `anthropic.claude-nonesuch-${ctx.rng.hex(4)}-20250101-v1:0`;
      const what = `${stream ? 'InvokeModelWithResponseStream' : 'InvokeModel'} for ${id}, which maps to no catalogue model`;
      const res = await sendBedrock(ctx, id, stream, { body: bedrockBody(ctx) });
      expectThat(res.status === 400, `${what}: must be refused as an unknown model (400), got ${res.status}`);
      res.abort();
      expectNoUpstream(ctx, what);
    }
  },
});
