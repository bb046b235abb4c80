/**
 * ROUTING-14 — a client that hangs up aborts the upstream request within one second, both mid-stream (content
 * already relayed) and while the opening events are held back (nothing relayed yet; and no failover starts for a
 * client that is gone). Usage records are not observable over HTTP.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import { ensureFirstTargetServes, messageRequests, routed, sendRouted, streamEvents } from './support.ts';

const ABORT_DEADLINE_MS = 1000;

export default defineCase({
  id: 'routing/client-disconnect',
  title: 'A client that hangs up aborts the upstream within a second',
  feature: 'routing',
  requirements: ['ROUTING-14'],
  timeoutMs: 40_000,
  async run(ctx) {
    const r = routed(ctx);
    const events = streamEvents(r.aModel);
    const scenarios = [
      { name: 'mid-stream, after content', holdAfter: 5, waitFor: 'content_block_delta' as string | null },
      { name: 'while the opening events are held back', holdAfter: 2, waitFor: null },
    ];
    for (const s of scenarios) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ events, holdAfter: s.holdAfter });
      const hangUp = new AbortController();
      let sawContent = false;
      const client = sendRouted(ctx, r, true, hangUp.signal)
        .then(async (res) => {
          for await (const ev of res.events()) if (ev.event === s.waitFor) sawContent = true;
        })
        .catch(() => {});
      const upstream = await r.a.waitForRequest((q) => q.url.startsWith('/v1/messages'), 5000);
      const started = Date.now();
      const sent = () => (upstream.response?.body.match(/^event: /gm) ?? []).length;
      while ((sent() < s.holdAfter || (s.waitFor !== null && !sawContent)) && Date.now() - started < 5000) {
        await sleep(20);
      }
      await sleep(100);
      hangUp.abort(new Error('client hangs up'));
      await client;
      const outcome = await Promise.race([
        upstream.outcome,
        sleep(ABORT_DEADLINE_MS).then(() => 'still open' as const),
      ]);
      expectThat(
        outcome === 'client-closed',
        outcome === 'still open'
          ? `${s.name}: the upstream connection was still open ${ABORT_DEADLINE_MS} ms after the client hung up`
          : `${s.name}: the upstream exchange ended as "${outcome}", not closed by the gateway`,
      );
      await sleep(Math.max(300, r.timing.backoffBaseMs * 4));
      expectThat(
        messageRequests(r.b).length === 0,
        `${s.name}: the request was sent to the second target after the client had gone`,
      );
    }
  },
});
