/**
 * ROUTING-12 — a target that goes down is routed around and, once healthy again, returned to: while the first
 * target answers 503, every request still succeeds through the second and the first stops being tried (its breaker
 * opened); after it recovers and the breaker's cool-down has passed, the first target serves requests again.
 */
import { expectThat, fail } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import {
  ensureFirstTargetServes,
  expectAnsweredByB,
  expectMessage,
  messageRequests,
  PERSISTENT,
  resetTargets,
  routed,
  sendRouted,
  within,
} from './support.ts';

export default defineCase({
  id: 'routing/flapping-target',
  title: 'A failing target is routed around, then returned to after it recovers',
  feature: 'routing',
  requirements: ['ROUTING-12', 'ROUTING-2'],
  timeoutMs: 60_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    resetTargets(r);
    r.a.enqueue({ status: 503, times: PERSISTENT * 4 });
    // Down: more requests than the breaker threshold; each is answered by B.
    const sent = r.timing.breakerFailureThreshold * 2 + 2;
    for (let i = 0; i < sent; i++) {
      const what = `request ${i + 1} while the first target is down`;
      const message = await within(
        10_000,
        what,
        sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
      );
      expectAnsweredByB(r, message, what);
    }
    const toA = messageRequests(r.a).length;
    expectThat(
      toA < sent,
      `the first target failed every request, yet it was still tried on each of ${sent} (${toA} attempts): ` +
        `its circuit breaker never opened`,
    );
    // Recovered: A answers normally again; within the cool-down (plus slack) it must serve again.
    const recoveredAt = Date.now();
    resetTargets(r);
    const limit = r.timing.breakerCoolDownMs + 5000;
    let servedByA = false;
    while (Date.now() - recoveredAt < limit) {
      const before = messageRequests(r.a).length;
      const what = 'a request after the first target recovered';
      const message = await within(
        10_000,
        what,
        sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
      );
      if (messageRequests(r.a).length > before && message.model !== r.bModel) {
        servedByA = true;
        break;
      }
      await sleep(250);
    }
    if (!servedByA) {
      fail(
        `the first target recovered, but it served no request within ${limit} ms (the breaker never closed)`,
      );
    }
    ctx.note(`first target served again ${Date.now() - recoveredAt} ms after it recovered`);
    // Closed again: the next requests go to A.
    for (let i = 0; i < 3; i++) {
      const before = messageRequests(r.b).length;
      const what = `request ${i + 1} after the breaker closed`;
      await within(
        10_000,
        what,
        sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
      );
      expectThat(messageRequests(r.b).length === before, `${what}: it went to the second target`);
    }
  },
});
