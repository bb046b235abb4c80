/**
 * INFERENCE-5 — the client's credentials (`authorization`, `x-api-key`) never reach the upstream; the upstream's
 * own credential is applied instead.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { drain, headersContaining, messageBody, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'inference/credentials-replaced',
  title: "The client's credentials are replaced by the upstream's",
  feature: 'inference',
  requirements: ['INFERENCE-5'],
  timeoutMs: 15_000,
  async run(ctx) {
    // The client sends its gateway credential both ways Claude Code can (ANTHROPIC_AUTH_TOKEN → authorization,
    // ANTHROPIC_API_KEY → x-api-key); the same value, so no gateway has reason to refuse the pair.
    const clientApiKey = ctx.gateway.bearer;
    for (const stream of [false, true]) {
      ctx.mocks.anthropic.reset();
      const res = await ctx.client.send({
        operationId: 'createMessage',
        path: '/v1/messages',
        headers: [['x-api-key', clientApiKey]],
        body: messageBody(ctx.rng, { stream }),
      });
      if (res.status !== 200) {
        expectThat(false, `expected status 200, got ${res.status} (stream: ${stream})`, {
          body: await res.text(),
        });
      }
      await drain(res);
      const upstream = await upstreamRequest(ctx);
      const leakedBearer = headersContaining(upstream, ctx.gateway.bearer);
      expectThat(
        leakedBearer.length === 0,
        `the client's credential reached the upstream in ${leakedBearer.join(', ')} (stream: ${stream})`,
      );
      const key = ctx.mocks.anthropic.apiKey;
      expectThat(
        upstream.headers['x-api-key'] === key || upstream.headers.authorization === `Bearer ${key}`,
        `the upstream's own API key was not applied (stream: ${stream})`,
        { upstreamHeaderNames: Object.keys(upstream.headers) },
      );
    }
  },
});
