/**
 * INFERENCE-9 — when the client disconnects mid-stream, the gateway aborts its upstream request: the mock upstream
 * (holding its stream open) must see its connection closed within 5 s of the client hanging up.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, sleep, upstreamRequest } from '../support.ts';

const CLOSE_DEADLINE_MS = 5000;

export default defineCase({
  id: 'inference/client-disconnect',
  title: 'A client that hangs up mid-stream aborts the upstream request',
  feature: 'inference',
  requirements: ['INFERENCE-9'],
  timeoutMs: 20_000,
  async run(ctx) {
    const mock = ctx.mocks.anthropic;
    mock.enqueue({ holdAfter: 2 });
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
    // Hang up only once the upstream stream is under way (it sent two events and holds the rest).
    const started = Date.now();
    while ((upstream.response?.body.match(/^event: /gm) ?? []).length < 2 && Date.now() - started < 5000) {
      await sleep(20);
    }
    await sleep(100);
    hangUp.abort(new Error('client hangs up'));
    await client;
    const outcome = await Promise.race([
      upstream.outcome,
      sleep(CLOSE_DEADLINE_MS).then(() => 'still open' as const),
    ]);
    expectThat(
      outcome === 'client-closed',
      outcome === 'still open'
        ? `the upstream connection was still open ${CLOSE_DEADLINE_MS} ms after the client hung up`
        : `the upstream exchange ended as "${outcome}", not closed by the gateway`,
    );
  },
});
