/**
 * ROUTING-9 — a stream that has relayed `message_stop` is over for the client even if the upstream keeps its
 * connection open: the client's stream ends promptly (within a second).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import {
  ensureFirstTargetServes,
  expectCompleteStream,
  readStream,
  routed,
  sendRouted,
  streamEvents,
  within,
} from './support.ts';

export default defineCase({
  id: 'routing/message-stop-ends-stream',
  title: 'message_stop ends the client stream even if the upstream stays open',
  feature: 'routing',
  requirements: ['ROUTING-9'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const events = streamEvents(r.aModel);
    await ensureFirstTargetServes(ctx, r);
    // After message_stop the mock holds the connection open (one more ping that never comes).
    r.a.enqueue({ events: [...events, { event: 'ping', data: { type: 'ping' } }], holdAfter: events.length });
    const what = 'the upstream keeps the connection open after message_stop';
    const stream = await within(
      10_000,
      what,
      sendRouted(ctx, r, true).then((res) => readStream(res, what)),
    );
    expectCompleteStream(stream, what);
    const lag = stream.endAt - (stream.stopAt ?? stream.endAt);
    expectThat(
      lag <= 1000,
      `${what}: the client stream ended ${Math.round(lag)} ms after message_stop (limit 1000 ms)`,
    );
  },
});
