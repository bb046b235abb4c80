/**
 * ROUTING-3 — a non-retryable 4xx of the first target (400 invalid_request_error, 404 not_found_error) reaches the
 * client exactly once with that status and type; the request is neither retried on A nor sent to B.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectError, sleep } from '../support.ts';
import {
  ensureFirstTargetServes,
  messageRequests,
  PERSISTENT,
  routed,
  sendRouted,
  within,
} from './support.ts';

const ANSWERS = [
  { status: 400, type: 'invalid_request_error' },
  { status: 404, type: 'not_found_error' },
];

export default defineCase({
  id: 'routing/no-retry-on-4xx',
  title: 'A non-retryable 4xx is answered once: no retry, no failover',
  feature: 'routing',
  requirements: ['ROUTING-3'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    for (const { status, type } of ANSWERS) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ status, times: PERSISTENT });
      const what = `first target answers ${status} ${type}`;
      const res = await within(10_000, what, sendRouted(ctx, r, false));
      await expectError(res, status, [type], what);
      // A late retry would arrive within a backoff or two.
      await sleep(Math.max(500, r.timing.backoffBaseMs * 8));
      const toA = messageRequests(r.a).length;
      const toB = messageRequests(r.b).length;
      expectThat(
        toA === 1 && toB === 0,
        `${what}: the request must go upstream exactly once, but the first target got ${toA} and the second ${toB}`,
      );
    }
  },
});
