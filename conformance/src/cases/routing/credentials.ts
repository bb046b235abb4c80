/**
 * ROUTING-10 — an upstream's 401 or 403 is the operator's problem: the gateway fails over to the next target, and
 * when every target answers 401 the client gets a 5xx `api_error` or a 529 `overloaded_error`, never 401 (which
 * would make Claude Code sign its user out) and never `authentication_error` / `permission_error`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectError } from '../support.ts';
import {
  ensureFirstTargetServes,
  expectAnsweredByB,
  expectMessage,
  PERSISTENT,
  routed,
  sendRouted,
  within,
} from './support.ts';

export default defineCase({
  id: 'routing/upstream-credentials',
  title: "An upstream's 401/403 fails over, and never reaches the client as 401",
  feature: 'routing',
  requirements: ['ROUTING-10'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    for (const status of [401, 403]) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ status, times: PERSISTENT });
      const what = `first target answers ${status}`;
      const message = await within(
        10_000,
        what,
        sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
      );
      expectAnsweredByB(r, message, what);
    }
    await ensureFirstTargetServes(ctx, r);
    r.a.enqueue({ status: 401, times: PERSISTENT });
    r.b.enqueue({ status: 401, times: PERSISTENT });
    const what = 'both targets answer 401';
    const res = await within(15_000, what, sendRouted(ctx, r, false));
    expectThat(res.status !== 401 && res.status !== 403, `${what}: the client must not get ${res.status}`);
    await expectError(res, (s) => s >= 500 && s <= 599, ['api_error', 'overloaded_error'], what);
  },
});
