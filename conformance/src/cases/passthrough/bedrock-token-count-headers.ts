/**
 * PASSTHROUGH-10 — a successful non-streaming Bedrock InvokeModel answer carries Bedrock's token-count headers from
 * the answer's usage: `x-amzn-bedrock-input-token-count` = `usage.input_tokens`, `x-amzn-bedrock-output-token-count`
 * = `usage.output_tokens`, and, when the usage has them, `x-amzn-bedrock-cache-read-input-token-count` =
 * `usage.cache_read_input_tokens` and `x-amzn-bedrock-cache-write-input-token-count` =
 * `usage.cache_creation_input_tokens`. Checked for Messages the Anthropic mock answers with seeded usage (with and
 * without cache counts) and, with `routing` declared, for the routed models the Bedrock and the Vertex mocks serve
 * ("whichever upstream kind served the request"): the headers equal the usage of the Message the client received.
 */
import { expectThat } from '../../errors.ts';
import type { GatewayResponse } from '../../runner/client.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual } from '../support.ts';
import {
  bedrockBody,
  expectMessageAnswer,
  expectServedByRoute,
  resetUpstreams,
  sendBedrock,
  upstreamMessage,
} from './support.ts';

const MODEL = 'claude-sonnet-4-5-20250929';
const BEDROCK_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

/** Header name → the usage member it carries. */
const HEADERS = [
  ['x-amzn-bedrock-input-token-count', 'input_tokens'],
  ['x-amzn-bedrock-output-token-count', 'output_tokens'],
  ['x-amzn-bedrock-cache-read-input-token-count', 'cache_read_input_tokens'],
  ['x-amzn-bedrock-cache-write-input-token-count', 'cache_creation_input_tokens'],
] as const;

/** The token-count headers of `res` equal the usage of `message` (the cache ones wherever the usage has them). */
function expectCountHeaders(res: GatewayResponse, message: Record<string, unknown>, what: string): void {
  const usage = (message.usage ?? {}) as Record<string, unknown>;
  for (const [header, member] of HEADERS) {
    const value = usage[member];
    const required = member === 'input_tokens' || member === 'output_tokens';
    if (!required && typeof value !== 'number') continue;
    expectThat(
      res.headers[header] === String(value),
      `${what}: ${header} must be the answer's usage.${member} ${JSON.stringify(value)}, got ${JSON.stringify(res.headers[header] ?? null)}`,
      {
        usage,
        headers: Object.fromEntries(Object.entries(res.headers).filter(([n]) => n.startsWith('x-amzn-'))),
      },
    );
  }
}

export default defineCase({
  id: 'passthrough/bedrock-token-count-headers',
  title: 'Non-streaming InvokeModel answers carry x-amzn-bedrock-*-token-count from the answer’s usage',
  feature: 'bedrock-passthrough',
  requirements: ['PASSTHROUGH-10'],
  timeoutMs: 30_000,
  async run(ctx) {
    const answer = (usage: Record<string, number>) => ({
      id: `msg_bdrk_01${ctx.rng.string(22)}`,
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [{ type: 'text', text: `Seeded answer ${ctx.rng.string(16)}`, citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
    const usages: Array<[string, Record<string, number>]> = [
      [
        'usage without cache counts',
        { input_tokens: 10 + ctx.rng.int(5000), output_tokens: 1 + ctx.rng.int(2000) },
      ],
      [
        'usage with cache reads and writes',
        {
          input_tokens: 10 + ctx.rng.int(5000),
          cache_creation_input_tokens: 1 + ctx.rng.int(3000),
          cache_read_input_tokens: 1 + ctx.rng.int(30_000),
          output_tokens: 1 + ctx.rng.int(2000),
        },
      ],
    ];
    for (const [name, usage] of usages) {
      resetUpstreams(ctx);
      const what = `InvokeModel ${BEDROCK_ID} answered with ${name}`;
      const sent = answer(usage);
      ctx.mocks.anthropic.enqueue({ body: sent });
      const res = await sendBedrock(ctx, BEDROCK_ID, false, { body: bedrockBody(ctx) });
      const got = await expectMessageAnswer(res, what);
      await upstreamMessage(ctx, what);
      expectEqual(got, sent, `${what}: the Message the client received vs the one the upstream sent`);
      expectCountHeaders(res, got, what);
    }

    // Whichever upstream kind served it: the routed models the Bedrock and the Vertex mocks serve.
    const routes = ctx.policy.providerRoutes ?? [];
    if (!ctx.gateway.features.includes('routing') || routes.length === 0) {
      ctx.note('routing not declared: the headers were checked only for answers from an Anthropic upstream');
      return;
    }
    for (const route of routes) {
      const id = route.targets.find((t) => t.mock === 'bedrock')?.upstreamModel;
      if (id === undefined) continue;
      resetUpstreams(ctx);
      const what = `InvokeModel ${id} (${route.model}, first served by the ${route.targets[0]?.mock} mock)`;
      const res = await sendBedrock(ctx, id, false, { body: bedrockBody(ctx) });
      const got = await expectMessageAnswer(res, what);
      expectServedByRoute(ctx, route, what);
      expectCountHeaders(res, got, what);
    }
  },
});
