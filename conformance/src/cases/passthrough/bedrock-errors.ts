/**
 * PASSTHROUGH-6 (PASSTHROUGH-2, PASSTHROUGH-4) — Bedrock pass-through errors are Bedrock's: the exception in
 * `x-amzn-ErrorType`, a `{"message"}` body and Bedrock's status for it. A model the caller's policy does not allow
 * and a model id that maps to no catalogue model are `400 ValidationException` on InvokeModel and
 * InvokeModelWithResponseStream, before any upstream is contacted (the allowlist applies exactly as on
 * `/v1/messages`: the allowed model is served); an upstream's `400` and `404` reach the client as
 * `ValidationException` and `ResourceNotFoundException`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { signedIn } from '../policy/support.ts';
import {
  bedrockBody,
  expectBedrockError,
  expectMessageAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

/** Bedrock ids of the fixture's restricted model and of a model it does not allow. */
const BEDROCK_IDS: Readonly<Record<string, string>> = {
  'claude-haiku-4-5': 'anthropic.claude-haiku-4-5-20251001-v1:0',
  'claude-sonnet-4-5': 'anthropic.claude-sonnet-4-5-v1:0',
  'claude-opus-4-1': 'us.anthropic.claude-opus-4-1-20250805-v1:0',
};

export default defineCase({
  id: 'passthrough/bedrock-errors',
  title: 'Bedrock pass-through errors carry x-amzn-ErrorType, {"message"} and Bedrock’s status',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-6', 'PASSTHROUGH-2', 'PASSTHROUGH-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    const { restrictedModel } = ctx.policy;
    const denied = ctx.policy.models.find((m) => m.id !== restrictedModel && BEDROCK_IDS[m.id] !== undefined);
    const allowedId = BEDROCK_IDS[restrictedModel] ?? `anthropic.${restrictedModel}-v1:0`;
    const unknownId = `anthropic.claude-nonesuch-${ctx.rng.hex(4)}-20250101-v1:0`;

    const refusals: Array<[string, string, string | undefined]> = [
      [`${unknownId}, which maps to no catalogue model`, unknownId, undefined],
    ];
    let restricted: string | undefined;
    if (ctx.gateway.features.includes('sign-in') && denied) {
      restricted = (await signedIn(ctx, [ctx.policy.groups.restricted])).tokens.accessToken;
      const deniedId = BEDROCK_IDS[denied.id] as string;
      refusals.unshift([
        `${deniedId} (${denied.id}) for a user whose policy allows only ${restrictedModel}`,
        deniedId,
        restricted,
      ]);
    } else {
      ctx.note('sign-in not declared: a model refused by policy was not checked, only an unknown one');
    }
    for (const stream of [false, true]) {
      for (const [name, id, bearer] of refusals) {
        resetUpstreams(ctx);
        const what = `${stream ? 'InvokeModelWithResponseStream' : 'InvokeModel'} for ${name}`;
        await expectBedrockError(
          await sendBedrock(ctx, id, stream, { body: bedrockBody(ctx), ...(bearer ? { bearer } : {}) }),
          400,
          what,
        );
        expectNoUpstream(ctx, what);
      }
    }
    if (restricted) {
      resetUpstreams(ctx);
      const what = `InvokeModel for ${allowedId}, the restricted user's allowed model`;
      await expectMessageAnswer(
        await sendBedrock(ctx, allowedId, false, { body: bedrockBody(ctx), bearer: restricted }),
        what,
      );
      const upstream = await upstreamMessage(ctx, what);
      expectThat(
        upstream.json.model === restrictedModel,
        `${what}: the upstream was sent model ${JSON.stringify(upstream.json.model)}, not ${restrictedModel}`,
      );
    }

    // Upstream errors the gateway passes on (non-retryable 4xx), in Bedrock's shape.
    for (const [status, type] of [
      [400, 'invalid_request_error'],
      [404, 'not_found_error'],
    ] as const) {
      resetUpstreams(ctx);
      const what = `InvokeModel answered ${status} ${type} by the upstream`;
      ctx.mocks.anthropic.enqueue({ status, times: 3 });
      await expectBedrockError(
        await sendBedrock(ctx, 'anthropic.claude-sonnet-4-5-20250929-v1:0', false, {
          body: bedrockBody(ctx),
        }),
        status,
        what,
      );
    }
  },
});
