/**
 * ROUTING-6 — a stream's opening events are held back until its first content: a first target that sends
 * `message_start` and `ping` and then stalls past the first-token limit, ends, or sends an `error` event before any
 * content is failed over unseen — the client gets B's complete stream, one `message_start`, none of A's events.
 */
import { expectThat } from '../../errors.ts';
import type { MockScript } from '../../mocks/anthropic/index.ts';
import { defineCase } from '../../runner/types.ts';
import {
  ensureFirstTargetServes,
  expectAnsweredByB,
  expectCompleteStream,
  PERSISTENT,
  readStream,
  routed,
  sendRouted,
  streamEvents,
  within,
} from './support.ts';

export default defineCase({
  id: 'routing/hold-back-opening-events',
  title: 'Opening events are held back: a target that fails before content is failed over unseen',
  feature: 'routing',
  requirements: ['ROUTING-6', 'ROUTING-1'],
  timeoutMs: 40_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const marker = `msg_01ocgFirstTarget${ctx.rng.string(8)}`;
    const opening = streamEvents(r.aModel, marker).filter(
      (e) => e.event === 'message_start' || e.event === 'ping',
    );
    const scenarios: Array<{ name: string; script: MockScript }> = [
      {
        name: 'message_start and ping, then silence',
        // The third event (the first content) is held and never comes.
        script: {
          events: [...opening, ...streamEvents(r.aModel).filter((e) => e.event === 'content_block_delta')],
          holdAfter: opening.length,
        },
      },
      { name: 'message_start and ping, then the end of the stream', script: { events: opening } },
      {
        name: 'message_start, then an overloaded_error event',
        script: {
          events: [
            ...opening,
            {
              event: 'error',
              data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
            },
          ],
        },
      },
    ];
    for (const s of scenarios) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ ...s.script, times: PERSISTENT });
      const what = `first target: ${s.name}`;
      const stream = await within(
        r.timing.firstTokenMs * 2 + 5000,
        what,
        sendRouted(ctx, r, true).then((res) => readStream(res, what)),
      );
      expectCompleteStream(stream, what);
      expectThat(
        !JSON.stringify(stream.events).includes(marker),
        `${what}: the client received the first target's message_start (opening events must be held back)`,
        { events: stream.events.map((e) => e.event) },
      );
      expectAnsweredByB(r, stream.events[0]?.json, what);
    }
  },
});
