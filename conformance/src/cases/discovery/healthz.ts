/**
 * DISCOVERY-2 — `GET /healthz` answers 200 `{"status":"ok"}` while the process serves.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual } from '../support.ts';

export default defineCase({
  id: 'discovery/healthz',
  title: 'GET /healthz answers 200 while the gateway serves',
  feature: 'health',
  requirements: ['DISCOVERY-2'],
  timeoutMs: 10_000,
  async run(ctx) {
    const res = await ctx.client.send({ operationId: 'getHealth', path: '/healthz', bearer: null });
    const body = await res.json();
    expectThat(res.status === 200, `expected status 200, got ${res.status}`);
    expectEqual(body, { status: 'ok' }, 'the /healthz body');
  },
});
