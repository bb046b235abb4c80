/**
 * INFERENCE-3 — SSE is never buffered. The mock upstream sends the first event and then stalls; the client must
 * receive that first event while the upstream is still stalled (within 5 s), and the rest after it resumes.
 */
import { expectThat, fail } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, sleep } from '../support.ts';

const FIRST_EVENT_DEADLINE_MS = 5000;

export default defineCase({
  id: 'inference/no-buffering',
  title: 'SSE events reach the client while the upstream stream is still open',
  feature: 'inference',
  requirements: ['INFERENCE-3'],
  timeoutMs: 20_000,
  async run(ctx) {
    const mock = ctx.mocks.anthropic;
    mock.enqueue({ holdAfter: 1 });
    const body = messageBody(ctx.rng, { stream: true });
    const first = (async () => {
      const res = await ctx.client.send({ operationId: 'createMessage', path: '/v1/messages', body });
      expectThat(res.status === 200, `expected status 200, got ${res.status}`);
      const events = res.events();
      const head = await events.next();
      return { events, head };
    })();
    first.catch(() => {});
    const outcome = await Promise.race([first, sleep(FIRST_EVENT_DEADLINE_MS).then(() => undefined)]);
    const heldAtUpstream = mock.requests[0]?.response !== undefined;
    mock.release();
    if (!outcome) {
      fail(
        `the client did not receive the first event within ${FIRST_EVENT_DEADLINE_MS} ms although the upstream had ` +
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
    let last = outcome.head.value.event;
    for await (const ev of outcome.events) last = ev.event;
    expectThat(
      last === 'message_stop',
      `after the upstream resumed, the stream ended with ${last}, not message_stop`,
    );
  },
});
