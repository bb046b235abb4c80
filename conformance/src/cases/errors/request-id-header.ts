/**
 * ERRORS-2 — every response carries a `request-id` header (`req_…`), equal to the envelope's `request_id` on
 * errors.
 */
import { expectThat } from '../../errors.ts';
import type { GatewayResponse, SendOptions } from '../../runner/client.ts';
import { defineCase } from '../../runner/types.ts';
import { drain, messageBody, REQUEST_ID_PATTERN } from '../support.ts';

function requestId(res: GatewayResponse, what: string): string {
  const id = res.headers['request-id'];
  expectThat(id !== undefined, `${what}: the response has no request-id header`, { headers: res.headers });
  expectThat(
    REQUEST_ID_PATTERN.test(id),
    `${what}: request-id ${JSON.stringify(id)} does not match ${REQUEST_ID_PATTERN}`,
  );
  return id;
}

export default defineCase({
  id: 'errors/request-id-header',
  title: 'Every response carries a request-id header',
  feature: 'inference',
  requirements: ['ERRORS-2'],
  timeoutMs: 20_000,
  async run(ctx) {
    const base = { operationId: 'createMessage', path: '/v1/messages' } as const;
    const successes: Array<[string, SendOptions]> = [
      ['non-streaming 200', { ...base, body: messageBody(ctx.rng) }],
      ['streaming 200', { ...base, body: messageBody(ctx.rng, { stream: true }) }],
      ['GET /protocol', { operationId: 'getProtocol', path: '/protocol', bearer: null }],
    ];
    const seen = new Set<string>();
    for (const [what, options] of successes) {
      const res = await ctx.client.send(options);
      await drain(res);
      expectThat(res.status === 200, `${what}: expected status 200, got ${res.status}`);
      seen.add(requestId(res, what));
    }
    const errors: Array<[string, SendOptions]> = [
      ['401 without bearer', { ...base, bearer: null, body: messageBody(ctx.rng) }],
      ['400 for a body that is not JSON', { ...base, body: 'not json' }],
    ];
    for (const [what, options] of errors) {
      const res = await ctx.client.send(options);
      const id = requestId(res, what);
      const body = (await res.json()) as { request_id?: unknown };
      expectThat(
        body.request_id === id,
        `${what}: the request-id header (${id}) differs from the envelope's request_id (${JSON.stringify(body.request_id)})`,
      );
      seen.add(id);
    }
    expectThat(seen.size === successes.length + errors.length, 'request ids must differ between requests', {
      ids: [...seen],
    });
  },
});
