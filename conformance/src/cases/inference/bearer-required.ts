/**
 * INFERENCE-10 — a missing or invalid bearer on a bearer endpoint is `401 authentication_error`, and the upstream
 * is not called.
 */
import { defineCase } from '../../runner/types.ts';
import { expectError, expectNoUpstreamCall, messageBody } from '../support.ts';

export default defineCase({
  id: 'inference/bearer-required',
  title: 'Bearer endpoints refuse a missing or wrong bearer with 401',
  feature: 'inference',
  requirements: ['INFERENCE-10'],
  timeoutMs: 15_000,
  async run(ctx) {
    const wrong = `${ctx.gateway.bearer.slice(0, -4)}${ctx.rng.string(4)}x`;
    const table: Array<
      [string, { bearer: string | null; path: string; operationId: string; stream?: boolean }]
    > = [
      ['no authorization header', { bearer: null, path: '/v1/messages', operationId: 'createMessage' }],
      ['a wrong bearer', { bearer: wrong, path: '/v1/messages', operationId: 'createMessage' }],
      [
        'a wrong bearer, streaming',
        { bearer: wrong, path: '/v1/messages', operationId: 'createMessage', stream: true },
      ],
      [
        'a random bearer',
        { bearer: `ocg_${ctx.rng.string(40)}`, path: '/v1/messages', operationId: 'createMessage' },
      ],
      [
        'no authorization header on count_tokens',
        { bearer: null, path: '/v1/messages/count_tokens', operationId: 'countMessageTokens' },
      ],
    ];
    for (const [what, t] of table) {
      if (t.operationId === 'countMessageTokens' && !ctx.gateway.features.includes('count-tokens')) continue;
      const res = await ctx.client.send({
        operationId: t.operationId,
        path: t.path,
        bearer: t.bearer,
        body: messageBody(ctx.rng, t.stream ? { stream: true } : {}),
      });
      await expectError(res, 401, ['authentication_error'], what);
    }
    expectNoUpstreamCall(ctx, 'requests without a valid bearer');
  },
});
