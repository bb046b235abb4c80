/**
 * INFERENCE-1 — a non-streaming POST /v1/messages is relayed to the upstream and its JSON answer returned
 * unchanged (status and body), including fields the gateway does not know.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual, messageBody, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'inference/non-streaming-passthrough',
  title: 'Non-streaming Messages answers are relayed unchanged',
  feature: 'inference',
  requirements: ['INFERENCE-1'],
  timeoutMs: 15_000,
  async run(ctx) {
    const body = messageBody(ctx.rng);
    const answer = {
      id: `msg_01${ctx.rng.string(22)}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [
        { type: 'text', text: `Seeded answer ${ctx.rng.string(16)} — ünïcödé ✓`, citations: null },
        {
          type: 'tool_use',
          id: `toolu_01${ctx.rng.string(20)}`,
          name: 'get_weather',
          input: { city: 'Paris' },
        },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: {
        input_tokens: 10 + ctx.rng.int(1000),
        output_tokens: 1 + ctx.rng.int(500),
        cache_creation_input_tokens: ctx.rng.int(100),
        cache_read_input_tokens: ctx.rng.int(100),
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        server_tool_use: null,
        service_tier: 'standard',
        inference_geo: null,
        output_tokens_details: null,
      },
      // A field the API may add tomorrow: a relay must not drop it.
      [`ocg_future_field_${ctx.rng.string(6).toLowerCase()}`]: { nested: [1, 'two', { three: true }] },
    };
    ctx.mocks.anthropic.enqueue({ body: answer });
    const res = await ctx.client.send({ operationId: 'createMessage', path: '/v1/messages', body });
    const got = await res.json();
    expectThat(res.status === 200, `expected status 200 (the upstream's), got ${res.status}`, { body: got });
    await upstreamRequest(ctx);
    expectEqual(got, answer, 'the body the client received vs the body the upstream sent');
  },
});
