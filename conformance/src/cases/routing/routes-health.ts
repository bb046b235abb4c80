/**
 * ROUTING-13 — each target's breaker state and health are visible to admins: after the first target failed enough
 * requests to open its breaker, `GET /v1/admin/routes` (as a read admin) shows it `open` (or `half_open` once the
 * cool-down passed) with its consecutive failures, when it opened and when the next probe is due, and the second
 * target `closed`. Observed only when the gateway also declares `admin` (noted otherwise).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { admin, expectAdmin, signedIn } from '../policy/support.ts';
import { ensureFirstTargetServes, expectMessage, PERSISTENT, routed, sendRouted, within } from './support.ts';

interface RouteTarget {
  target: string;
  state: string;
  consecutive_failures: number;
  opened_at?: string | null;
  next_probe_at?: string | null;
}

export default defineCase({
  id: 'routing/routes-health',
  title: "Admins see each target's breaker state and health",
  feature: 'routing',
  requirements: ['ROUTING-13'],
  timeoutMs: 40_000,
  async run(ctx) {
    if (!ctx.gateway.features.includes('admin')) {
      ctx.note(
        'not observed: the gateway does not declare `admin`, so GET /v1/admin/routes cannot be called',
      );
      return;
    }
    const r = routed(ctx);
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.adminRead]);
    await ensureFirstTargetServes(ctx, r);
    r.a.enqueue({ status: 503, times: PERSISTENT * 4 });
    for (let i = 0; i < r.timing.breakerFailureThreshold * 2 + 2; i++) {
      const what = `request ${i + 1} while the first target is down`;
      await within(
        10_000,
        what,
        sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
      );
    }
    const answer = await admin(
      ctx,
      { bearer: tokens.accessToken },
      'getRoutesHealth',
      'GET',
      '/v1/admin/routes',
    );
    expectAdmin(answer, 200, null, 'GET /v1/admin/routes as a read admin');
    const data = ((answer.json as { data?: RouteTarget[] }).data ?? []) as RouteTarget[];
    const find = (model: string) => data.find((t) => t.target.endsWith(`/${model}`) || t.target === model);
    const a = find(r.aModel);
    const b = find(r.bModel);
    expectThat(a && b, `the routes list must name both targets (…/${r.aModel}, …/${r.bModel})`, { data });
    expectThat(
      a.state === 'open' || a.state === 'half_open',
      `the first target failed every request, yet its breaker is ${a.state}`,
      { a },
    );
    expectThat(a.consecutive_failures >= 1, 'the first target shows no consecutive failures', { a });
    expectThat(typeof a.opened_at === 'string', 'the open breaker must say when it opened', { a });
    expectThat(
      a.state !== 'open' || typeof a.next_probe_at === 'string',
      'the open breaker must say when its next probe is due',
      { a },
    );
    expectThat(
      b.state === 'closed',
      `the second target served every request, yet its breaker is ${b.state}`,
      { b },
    );
  },
});
