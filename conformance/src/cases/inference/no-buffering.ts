/**
 * INFERENCE-3 — SSE is never buffered. The mock upstream sends its opening events and the first content event
 * (`message_start`, `content_block_start`, `ping`, the first `content_block_delta`) and then stalls; the client must
 * receive them — the first content included — while the upstream is still stalled (within 5 s), and the rest after
 * it resumes. (A gateway may hold back the opening events until the first content, ROUTING-6, so the case waits
 * for content, not for `message_start` alone.)
 */
import { expectThat, fail } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, sleep } from '../support.ts';

const FIRST_EVENT_DEADLINE_MS = 5000;
/** message_start, content_block_start, ping, the first content_block_delta of the mock's default answer. */
const OPENING_AND_FIRST_CONTENT = 4;

export default defineCase({
  id: 'inference/no-buffering',
  title: 'SSE events reach the client while the upstream stream is still open',
  feature: 'inference',
  requirements: ['INFERENCE-3'],
  timeoutMs: 20_000,
  async run(ctx) {
    const mock = ctx.mocks.anthropic;
    mock.enqueue({ holdAfter: OPENING_AND_FIRST_CONTENT });
    const body = messageBody(ctx.rng, { stream: true });
    const first = (async () => {
      const res = await ctx.client.send({ operationId: 'createMessage', path: '/v1/messages', body });
      expectThat(res.status === 200, `expected status 200, got ${res.status}`);
      const events = res.events();
      const head = await events.next();
      // Every event up to the first content must arrive while the upstream still holds the rest.
      const seen = [head];
      while (!seen.at(-1)?.done && seen.at(-1)?.value.event !== 'content_block_delta')
        seen.push(await events.next());
      return { events, head, seen };
    })();
    first.catch(() => {});
    const outcome = await Promise.race([first, sleep(FIRST_EVENT_DEADLINE_MS).then(() => undefined)]);
    // Still held at the upstream when the client had the first content: that is the point of the case.
    const heldAtUpstream = mock.requests[0]?.response !== undefined;
    mock.release();
    if (!outcome) {
      fail(
        `the client did not receive the events up to the first content within ${FIRST_EVENT_DEADLINE_MS} ms although the upstream had ` +
          'sent it (the upstream was holding the rest of the stream): the gateway buffers SSE',
        {
          upstreamSentHeaders: heldAtUpstream,
          upstreamBodySoFar: mock.requests[0]?.response?.body.slice(0, 500),
        },
      );
    }
    expectThat(!outcome.head.done, 'the stream ended without any event');
    expectThat(
      outcome.head.value.event === 'message_start',
      `the first event is ${outcome.head.value.event}, not message_start`,
    );
    const lastSeen = outcome.seen.at(-1);
    expectThat(
      lastSeen !== undefined && !lastSeen.done && lastSeen.value.event === 'content_block_delta',
      'the first content event did not arrive while the upstream held the rest of the stream',
    );
    let last = lastSeen?.done ? '' : (lastSeen?.value.event ?? '');
    for await (const ev of outcome.events) last = ev.event;
    expectThat(
      last === 'message_stop',
      `after the upstream resumed, the stream ended with ${last}, not message_stop`,
    );
  },
});
