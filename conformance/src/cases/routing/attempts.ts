/**
 * ROUTING-4, ROUTING-5 — `retry-after` is honoured (a target is not sent the request again before it), a
 * `retry-after` past the request's deadline drops the target instead of waiting for it, successive attempts on a
 * target are separated by a backoff, and the number of attempts is bounded: with every target failing, the client
 * gets an error promptly after a bounded number of upstream requests.
 */
import { expectThat } from '../../errors.ts';
import type { RecordedRequest } from '../../mocks/anthropic/index.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import {
  ensureFirstTargetServes,
  expectMessage,
  messageRequests,
  PERSISTENT,
  routed,
  sendRouted,
  within,
} from './support.ts';

function gaps(requests: RecordedRequest[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < requests.length; i++)
    out.push((requests[i] as RecordedRequest).receivedAt - (requests[i - 1] as RecordedRequest).receivedAt);
  return out;
}

export const retryAfter = defineCase({
  id: 'routing/retry-after',
  title: 'retry-after is honoured, and one past the deadline drops the target',
  feature: 'routing',
  requirements: ['ROUTING-4'],
  timeoutMs: 40_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    await ensureFirstTargetServes(ctx, r);
    // Both targets ask for one second once, then answer normally.
    r.a.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    r.b.enqueue({ status: 529, headers: { 'retry-after': '1' } });
    let what = 'both targets answer retry-after: 1 once';
    await within(
      15_000,
      what,
      sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
    );
    for (const [name, mock] of [
      ['first', r.a],
      ['second', r.b],
    ] as const) {
      const g = gaps(messageRequests(mock));
      expectThat(
        g.every((ms) => ms >= 950),
        `${what}: the ${name} target was sent the request again ${Math.min(...g)} ms after its retry-after: 1`,
      );
    }

    await ensureFirstTargetServes(ctx, r);
    r.a.enqueue({ status: 429, headers: { 'retry-after': '3600' }, times: PERSISTENT });
    r.b.enqueue({ status: 529, headers: { 'retry-after': '3600' }, times: PERSISTENT });
    what = 'both targets answer retry-after: 3600';
    const res = await within(15_000, what, sendRouted(ctx, r, false));
    const text = await res.text();
    expectThat(res.status >= 400, `${what}: expected an error answer, got ${res.status}`, {
      body: text.slice(0, 500),
    });
    await sleep(200);
    const toA = messageRequests(r.a).length;
    const toB = messageRequests(r.b).length;
    expectThat(
      toA === 1 && toB === 1,
      `${what}: each target must get the request once (got ${toA} and ${toB}): a retry-after past the deadline drops it`,
    );
  },
});

export const boundedAttempts = defineCase({
  id: 'routing/bounded-attempts',
  title: 'Attempts are bounded and separated by a backoff',
  feature: 'routing',
  requirements: ['ROUTING-5'],
  timeoutMs: 40_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    await ensureFirstTargetServes(ctx, r);
    r.a.enqueue({ status: 503, times: PERSISTENT });
    r.b.enqueue({ status: 503, times: PERSISTENT });
    const what = 'both targets answer 503 every time';
    const res = await within(20_000, what, sendRouted(ctx, r, false));
    const text = await res.text();
    expectThat(res.status >= 400, `${what}: expected an error answer, got ${res.status}`, {
      body: text.slice(0, 500),
    });
    await sleep(Math.max(1000, r.timing.backoffBaseMs * 16));
    const toA = messageRequests(r.a);
    const toB = messageRequests(r.b);
    expectThat(
      toA.length + toB.length <= 20,
      `${what}: ${toA.length + toB.length} upstream requests for one client request (the attempts must be bounded)`,
    );
    const minGap = Math.floor(r.timing.backoffBaseMs / 2);
    for (const [name, reqs] of [
      ['first', toA],
      ['second', toB],
    ] as const) {
      const g = gaps(reqs);
      expectThat(
        g.every((ms) => ms >= minGap),
        `${what}: successive attempts on the ${name} target only ${Math.min(...g)} ms apart (backoff base ${r.timing.backoffBaseMs} ms)`,
      );
    }
    ctx.note(`${toA.length} + ${toB.length} upstream attempts`);
  },
});
