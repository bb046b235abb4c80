/**
 * INFERENCE-11 — the bearer token is accepted in `x-api-key` as well as in `Authorization: Bearer` (Claude Code
 * sends an apiKeyHelper's output in both); two different credentials are `401 authentication_error` and the
 * upstream is not called.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectError, expectNoUpstreamCall, messageBody, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'inference/api-key-header',
  title: 'The bearer token works in x-api-key too; two different credentials are refused',
  feature: 'inference',
  requirements: ['INFERENCE-11'],
  timeoutMs: 15_000,
  async run(ctx) {
    const token = ctx.gateway.bearer;
    const accepted: Array<[string, { bearer: string | null; headers: Record<string, string> }]> = [
      ['x-api-key only', { bearer: null, headers: { 'x-api-key': token } }],
      ['the same token in both headers', { bearer: token, headers: { 'x-api-key': token } }],
    ];
    for (const [what, t] of accepted) {
      ctx.mocks.anthropic.reset();
      const res = await ctx.client.send({
        operationId: 'createMessage',
        path: '/v1/messages',
        bearer: t.bearer,
        headers: t.headers,
        body: messageBody(ctx.rng),
      });
      const body = await res.json();
      expectThat(res.status === 200, `${what}: expected 200, got ${res.status}`, { body });
      const upstream = await upstreamRequest(ctx);
      expectThat(
        upstream.headers['x-api-key'] === ctx.mocks.anthropic.apiKey,
        `${what}: the upstream must receive its own key in x-api-key, not the client's token`,
      );
    }

    ctx.mocks.anthropic.reset();
    const other = `ocg_${ctx.rng.string(40)}`;
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      bearer: token,
      headers: { 'x-api-key': other },
      body: messageBody(ctx.rng),
    });
    await expectError(res, 401, ['authentication_error'], 'a valid bearer with a different x-api-key');
    expectNoUpstreamCall(ctx, 'a request with two different credentials');
  },
});
