/**
 * DISCOVERY-3 — `GET /readyz` answers 200 only when the gateway can serve. The kit cannot take a gateway's
 * database away through adapter contract v0, so it checks the ready side only: a gateway that just served a
 * request answers 200 `{"status":"ready"}`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual } from '../support.ts';

export default defineCase({
  id: 'discovery/readyz',
  title: 'GET /readyz answers 200 when the gateway can serve',
  feature: 'health',
  requirements: ['DISCOVERY-3'],
  timeoutMs: 10_000,
  async run(ctx) {
    const res = await ctx.client.send({ operationId: 'getReadiness', path: '/readyz', bearer: null });
    const body = await res.json();
    expectThat(res.status === 200, `expected status 200 from a serving gateway, got ${res.status}`, { body });
    expectEqual(body, { status: 'ready' }, 'the /readyz body');
  },
});
