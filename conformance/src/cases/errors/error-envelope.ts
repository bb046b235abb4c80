/**
 * ERRORS-1 — every error on a bearer endpoint uses the Anthropic error envelope
 * `{"type":"error","error":{"type","message"},"request_id":"req_…"}`: the gateway's own errors (401, 400) and the
 * upstream's errors it relays.
 */
import { expectThat } from '../../errors.ts';
import type { SendOptions } from '../../runner/client.ts';
import { defineCase } from '../../runner/types.ts';
import { expectError, messageBody, REQUEST_ID_PATTERN } from '../support.ts';

export default defineCase({
  id: 'errors/error-envelope',
  title: 'Errors on bearer endpoints use the Anthropic error envelope with request_id',
  feature: 'inference',
  requirements: ['ERRORS-1'],
  timeoutMs: 20_000,
  async run(ctx) {
    const base = { operationId: 'createMessage', path: '/v1/messages' } as const;
    const anyError = (s: number) => s >= 400 && s <= 599;
    // Upstream errors: the gateway may map them (e.g. an upstream 403 is the gateway's credential problem, not the
    // client's), but whatever it answers must be an envelope.
    const table: Array<
      [string, SendOptions, number | ((s: number) => boolean), string[] | null, (() => void)?]
    > = [
      [
        'missing bearer',
        { ...base, bearer: null, body: messageBody(ctx.rng) },
        401,
        ['authentication_error'],
      ],
      ['body that is not JSON', { ...base, body: '{"model": ' }, 400, ['invalid_request_error']],
      [
        'upstream 400',
        { ...base, body: messageBody(ctx.rng) },
        anyError,
        null,
        () => ctx.mocks.anthropic.enqueue({ status: 400, times: 5 }),
      ],
      [
        'upstream 403',
        { ...base, body: messageBody(ctx.rng) },
        anyError,
        null,
        () => ctx.mocks.anthropic.enqueue({ status: 403, times: 5 }),
      ],
      [
        'upstream 404',
        { ...base, body: messageBody(ctx.rng, { stream: true }) },
        anyError,
        null,
        () => ctx.mocks.anthropic.enqueue({ status: 404, times: 5 }),
      ],
    ];
    for (const [what, options, status, types, setup] of table) {
      ctx.mocks.anthropic.reset();
      setup?.();
      const env = await expectError(await ctx.client.send(options), status, types, what);
      expectThat(
        typeof env.error.message === 'string' && env.error.message.length > 0,
        `${what}: error.message must be a non-empty string`,
        { envelope: env },
      );
      expectThat(
        typeof env.request_id === 'string' && REQUEST_ID_PATTERN.test(env.request_id),
        `${what}: the envelope's request_id must match ${REQUEST_ID_PATTERN}, got ${JSON.stringify(env.request_id)}`,
        { envelope: env },
      );
    }
  },
});
