/**
 * ROUTING-8 — an upstream SSE event whose `data` is not JSON is dropped, never forwarded: the client's stream stays
 * a sequence of JSON events and still ends with `message_stop`.
 */
import { expectThat } from '../../errors.ts';
import type { MockEvent } from '../../mocks/anthropic/index.ts';
import { defineCase } from '../../runner/types.ts';
import { formatSseEvent } from '../../util/sse.ts';
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
  id: 'routing/malformed-event-dropped',
  title: 'A malformed upstream SSE event is dropped, not forwarded',
  feature: 'routing',
  requirements: ['ROUTING-8'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const events = streamEvents(r.aModel);
    const garbage = `ocg-garbage-${ctx.rng.string(8)}`;
    // After the first text delta: an event whose data is cut-off JSON.
    const transcript: Array<MockEvent | string> = [
      ...events.slice(0, 4),
      `event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "${garbage}\n\n`,
      ...events.slice(4),
    ];
    const text = transcript
      .map((e) => (typeof e === 'string' ? e : formatSseEvent(e.event, e.data)))
      .join('');
    await ensureFirstTargetServes(ctx, r);
    r.a.enqueue({ transcript: text });
    const what = 'a stream with a malformed event after the first content';
    const stream = await within(
      10_000,
      what,
      sendRouted(ctx, r, true).then((res) => readStream(res, what)),
    );
    expectCompleteStream(stream, what);
    expectThat(
      !JSON.stringify(stream.events).includes(garbage),
      `${what}: the malformed event reached the client`,
      { names: stream.events.map((e) => e.event) },
    );
    const deltas = stream.events.filter((e) => e.event === 'content_block_delta').length;
    const expected = events.filter((e) => e.event === 'content_block_delta').length;
    expectThat(deltas === expected, `${what}: expected the ${expected} valid text deltas, got ${deltas}`);
  },
});
