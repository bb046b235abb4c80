/**
 * ROUTING-16 (SHOULD) — upstream connections are kept open and reused: four requests in a row for the routed
 * model — non-streaming, two streams that end with `message_stop`, non-streaming again — reach the first target on
 * at most two TCP connections (one reconnect is allowed, say after a connection the upstream closed), where a
 * gateway that opens a connection per request, or drops one after every stream, uses four. The mock numbers the
 * connections it accepts (`exchange.connection`).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import {
  ensureFirstTargetServes,
  expectCompleteStream,
  expectMessage,
  messageRequests,
  readStream,
  routed,
  sendRouted,
  within,
} from './support.ts';

/** Time between requests: a connection whose answer has ended is back in the gateway's pool by then. */
const PAUSE_MS = 150;
const MAX_CONNECTIONS = 2;

export default defineCase({
  id: 'routing/connection-reuse',
  title: 'Requests in a row reach the upstream on kept-alive connections',
  feature: 'routing',
  requirements: ['ROUTING-16'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const kinds = [false, true, true, false] as const;
    for (const [i, stream] of kinds.entries()) {
      const what = `request ${i + 1} of ${kinds.length} (${stream ? 'streamed' : 'not streamed'})`;
      const res = await within(10_000, what, sendRouted(ctx, r, stream));
      if (stream) expectCompleteStream(await readStream(res, what), what);
      else await expectMessage(res, what);
      await sleep(PAUSE_MS);
    }
    const seen = messageRequests(r.a);
    expectThat(
      seen.length === kinds.length,
      `the first target received ${seen.length} Messages requests, expected ${kinds.length} (one per request)`,
    );
    const connections = new Set(seen.map((x) => x.connection));
    expectThat(
      connections.size <= MAX_CONNECTIONS,
      `${kinds.length} requests in a row, ${PAUSE_MS} ms apart, reached the upstream on ${connections.size} ` +
        `connections (at most ${MAX_CONNECTIONS}): upstream connections are not kept alive and reused`,
      { connections: seen.map((x) => x.connection) },
    );
  },
});
