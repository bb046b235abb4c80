/**
 * ROUTING-1, -2, -6, -15 — a retryable failure of the first target (529, 500, 503, 429 with and without
 * `retry-after`, a connection reset before any header, silence past the first-token limit) is never seen by the
 * client: the second target answers a normal 200 (streaming: the complete SSE of B, one `message_start`, no
 * trace of A), and the answer is B's. The fault is persistent on A, so whether a gateway retries A first or fails
 * over at once, only B can answer.
 */
import type { MockScript } from '../../mocks/anthropic/index.ts';
import { type ConformanceCase, defineCase } from '../../runner/types.ts';
import {
  ensureFirstTargetServes,
  expectAnsweredByB,
  expectCompleteStream,
  expectMessage,
  PERSISTENT,
  readStream,
  routed,
  sendRouted,
  within,
} from './support.ts';

interface Fault {
  name: string;
  title: string;
  script: MockScript;
  /** Also tried on a non-streaming request (silence before headers is not: its limit is the whole answer). */
  nonStreaming: boolean;
  requirements: string[];
}

const FAULTS: Fault[] = [
  {
    name: '529',
    title: '529 overloaded_error',
    script: { status: 529 },
    nonStreaming: true,
    requirements: [],
  },
  { name: '500', title: '500 api_error', script: { status: 500 }, nonStreaming: true, requirements: [] },
  { name: '503', title: '503', script: { status: 503 }, nonStreaming: true, requirements: [] },
  {
    name: '429-retry-after',
    title: '429 with retry-after',
    script: { status: 429, headers: { 'retry-after': '1' } },
    nonStreaming: true,
    requirements: ['ROUTING-4'],
  },
  {
    name: '429-no-retry-after',
    title: '429 without retry-after',
    script: { status: 429, headers: { 'retry-after': '' } },
    nonStreaming: true,
    requirements: [],
  },
  {
    name: 'connection-reset',
    title: 'a connection reset before any header',
    script: { cutAfter: 0 },
    nonStreaming: true,
    requirements: [],
  },
  {
    name: 'first-token-silence',
    title: 'silence past the first-token limit',
    script: { delayMs: 30_000 },
    nonStreaming: false,
    requirements: ['ROUTING-6'],
  },
];

function failoverCase(fault: Fault): ConformanceCase {
  return defineCase({
    id: `routing/failover-${fault.name}`,
    title: `The second target answers when the first gives ${fault.title}`,
    feature: 'routing',
    requirements: ['ROUTING-1', 'ROUTING-2', 'ROUTING-15', ...fault.requirements],
    timeoutMs: 30_000,
    async run(ctx) {
      const r = routed(ctx);
      await ensureFirstTargetServes(ctx, r);
      // Each attempt may wait for the first-token limit (silence) or a short backoff: generous but bounded.
      const bound = r.timing.firstTokenMs * 2 + 5000;
      if (fault.nonStreaming) {
        await ensureFirstTargetServes(ctx, r);
        r.a.enqueue({ ...fault.script, times: PERSISTENT });
        const what = `non-streaming, first target ${fault.title}`;
        const message = await within(
          bound,
          what,
          sendRouted(ctx, r, false).then((res) => expectMessage(res, what)),
        );
        expectAnsweredByB(r, message, what);
      }
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ ...fault.script, times: PERSISTENT });
      const what = `streaming, first target ${fault.title}`;
      const stream = await within(
        bound,
        what,
        sendRouted(ctx, r, true).then((res) => readStream(res, what)),
      );
      expectCompleteStream(stream, what);
      expectAnsweredByB(r, stream.events[0]?.json, what);
    },
  });
}

export const failoverCases: ConformanceCase[] = FAULTS.map(failoverCase);
