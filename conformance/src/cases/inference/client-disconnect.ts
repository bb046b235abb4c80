/**
 * INFERENCE-9 — when the client disconnects mid-stream, the gateway aborts its upstream request: the mock upstream
 * (holding its stream open after the first content) must see its connection closed promptly after the client hangs
 * up — within 5 s, and before the idle limit the kit asked the gateway for (`timing.routing.idleMs`) could have
 * closed it for another reason.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, sleep, upstreamRequest } from '../support.ts';

const CLOSE_DEADLINE_MS = 5000;
/** message_start, content_block_start, ping, the first content_block_delta: past any hold-back of opening events. */
const EVENTS_BEFORE_HOLD = 4;

export default defineCase({
  id: 'inference/client-disconnect',
  title: 'A client that hangs up mid-stream aborts the upstream request',
  feature: 'inference',
  requirements: ['INFERENCE-9'],
  timeoutMs: 20_000,
  async run(ctx) {
    const mock = ctx.mocks.anthropic;
    mock.enqueue({ holdAfter: EVENTS_BEFORE_HOLD });
    const idleMs = ctx.timing.routing?.idleMs;
    const deadline = Math.min(CLOSE_DEADLINE_MS, idleMs === undefined ? CLOSE_DEADLINE_MS : idleMs / 2);
    const hangUp = new AbortController();
    const client = ctx.client
      .send({
        operationId: 'createMessage',
        path: '/v1/messages',
        body: messageBody(ctx.rng, { stream: true }),
        signal: hangUp.signal,
      })
      .then(async (res) => {
        for await (const _event of res.events()) {
          // read until the hang-up
        }
      })
      .catch(() => {});
    const upstream = await upstreamRequest(ctx);
    // Hang up only once the upstream stream is under way (it sent its first events and holds the rest).
    const started = Date.now();
    while (
      (upstream.response?.body.match(/^event: /gm) ?? []).length < EVENTS_BEFORE_HOLD &&
      Date.now() - started < 5000
    ) {
      await sleep(20);
    }
    await sleep(100);
    hangUp.abort(new Error('client hangs up'));
    await client;
    const outcome = await Promise.race([upstream.outcome, sleep(deadline).then(() => 'still open' as const)]);
    expectThat(
      outcome === 'client-closed',
      outcome === 'still open'
        ? `the upstream connection was still open ${deadline} ms after the client hung up`
        : `the upstream exchange ended as "${outcome}", not closed by the gateway`,
    );
  },
});
