/**
 * INFERENCE-8 — POST /v1/messages/count_tokens is relayed to the upstream and answers `{input_tokens}`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual, upstreamJson, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'inference/count-tokens',
  title: 'Token counting is relayed',
  feature: 'count-tokens',
  requirements: ['INFERENCE-8'],
  timeoutMs: 15_000,
  async run(ctx) {
    const inputTokens = 1 + ctx.rng.int(100_000);
    ctx.mocks.anthropic.enqueue({ body: { input_tokens: inputTokens } });
    const body = {
      model: 'claude-sonnet-4-5',
      system: 'You are terse.',
      messages: [{ role: 'user', content: `count me ${ctx.rng.string(20)}` }],
      tools: [{ name: 'noop', input_schema: { type: 'object' } }],
    };
    const res = await ctx.client.send({
      operationId: 'countMessageTokens',
      path: '/v1/messages/count_tokens',
      body,
    });
    const got = await res.json();
    expectThat(res.status === 200, `expected status 200, got ${res.status}`, { body: got });
    expectEqual(got, { input_tokens: inputTokens }, "the client's answer vs the upstream's");
    const upstream = await upstreamRequest(ctx, '/v1/messages/count_tokens');
    expectEqual(upstreamJson(upstream), body, 'the body the upstream received vs the body the client sent');
  },
});
