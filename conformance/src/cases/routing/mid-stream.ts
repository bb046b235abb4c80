/**
 * ROUTING-7, ROUTING-1 — once content reached the client, a cut or a stall of the upstream past the idle limit ends
 * the client's stream with an SSE `error` event (`api_error` or `overloaded_error`) — never a clean
 * `message_stop` on a truncated answer — and the request is not sent upstream again.
 */
import { expectThat } from '../../errors.ts';
import type { MockScript } from '../../mocks/anthropic/index.ts';
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import {
  ensureFirstTargetServes,
  messageRequests,
  readStream,
  routed,
  sendRouted,
  streamEvents,
  within,
} from './support.ts';

export default defineCase({
  id: 'routing/mid-stream-failure',
  title: 'A stream cut or stalled after content ends with an SSE error event, never a clean end',
  feature: 'routing',
  requirements: ['ROUTING-7', 'ROUTING-1'],
  timeoutMs: 40_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const events = streamEvents(r.aModel);
    // message_start, content_block_start, ping, then two text deltas: content has reached the client.
    const k = 5;
    const scenarios: Array<{ name: string; script: MockScript; bound: number }> = [
      {
        name: `the upstream cuts the connection after ${k} events`,
        script: { events, cutAfter: k },
        bound: 10_000,
      },
      {
        name: `the upstream stalls after ${k} events`,
        script: { events, holdAfter: k },
        bound: r.timing.idleMs + 6000,
      },
    ];
    for (const s of scenarios) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue(s.script);
      const what = s.name;
      const stream = await within(
        s.bound,
        what,
        sendRouted(ctx, r, true).then((res) => readStream(res, what)),
      );
      const names = stream.events.map((e) => e.event);
      expectThat(
        names.includes('content_block_delta'),
        `${what}: the content sent before the failure must reach the client`,
        { names },
      );
      expectThat(
        !names.includes('message_stop'),
        `${what}: a truncated answer must not end with message_stop`,
        {
          names,
        },
      );
      const last = stream.events.at(-1);
      const type = (last?.json as { error?: { type?: unknown } } | undefined)?.error?.type;
      expectThat(
        last?.event === 'error' && (type === 'api_error' || type === 'overloaded_error'),
        `${what}: the stream must end with an SSE error event of type api_error or overloaded_error, ` +
          `got ${last?.event} ${JSON.stringify(type)}`,
        { names, last },
      );
      await sleep(300);
      const toA = messageRequests(r.a).length;
      const toB = messageRequests(r.b).length;
      expectThat(
        toA === 1 && toB === 0,
        `${what}: once the client got part of the answer the request must not be sent again ` +
          `(first target ${toA} requests, second ${toB})`,
      );
    }
  },
});
