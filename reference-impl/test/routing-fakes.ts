/**
 * In-process fake upstreams and a fake clock for the routing tests: each fake answers from a script, one step per
 * call, honouring the request's abort signal the way undici does (the body is destroyed).
 */
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { type Clock, realClock } from '../src/routing/route.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../src/upstream/anthropic.ts';

export type Step =
  | { throw: GatewayError | Error; delayMs?: number }
  | { status: number; headers?: Record<string, string>; json?: unknown; delayMs?: number }
  | {
      /** SSE events, as `[event, data]` pairs or raw strings. */
      sse: Array<[string, unknown] | string>;
      status?: number;
      headers?: Record<string, string>;
      delayMs?: number;
      gapMs?: number;
      /** Break the body (socket error) after this many events. */
      cutAfter?: number;
      /** Go silent after this many events, connection kept open. */
      stallAfter?: number;
      /** After the last event, keep the connection open instead of ending. */
      keepOpen?: boolean;
    }
  /** Never answer (until aborted). */
  | { hang: true };

export interface Call {
  upstreamModel?: string;
  requestBody: string;
  signal: AbortSignal;
  /** The response body given out (SSE/JSON), to check it was destroyed. */
  body?: Readable;
}

export interface FakeUpstream extends Upstream {
  calls: Call[];
  /** Steps still queued; when empty the fake answers `fallback`. */
  steps: Step[];
}

export function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A complete streamed answer whose text is `text` and message id `id`. */
export function answerEvents(
  id: string,
  text: string,
  inputTokens = 10,
  outputTokens = 5,
): Array<[string, unknown]> {
  return [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: 'm',
          content: [],
          usage: { input_tokens: inputTokens, output_tokens: 1 },
        },
      },
    ],
    [
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    ],
    ['ping', { type: 'ping' }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    [
      'message_delta',
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: outputTokens } },
    ],
    ['message_stop', { type: 'message_stop' }],
  ];
}

export function errorBody(type: string, message: string): unknown {
  return { type: 'error', error: { type, message } };
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export function fakeUpstream(name: string, steps: Step[], fallback?: Step): FakeUpstream {
  const calls: Call[] = [];
  const up: FakeUpstream = {
    name,
    kind: 'anthropic',
    calls,
    steps,
    async send(request: UpstreamRequest): Promise<UpstreamResponse> {
      const call: Call = {
        upstreamModel: request.upstreamModel,
        requestBody: request.body.toString('utf8'),
        signal: request.signal,
      };
      calls.push(call);
      const step = up.steps.shift() ??
        fallback ?? { status: 200, json: { type: 'message', usage: { input_tokens: 1, output_tokens: 1 } } };
      const signal = request.signal;
      if ('hang' in step) {
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
        throw new Error('unreachable');
      }
      if (step.delayMs) await wait(step.delayMs, signal);
      if ('throw' in step) throw step.throw;
      if ('json' in step || !('sse' in step)) {
        const text = JSON.stringify((step as { json?: unknown }).json ?? {});
        const body = Readable.from([Buffer.from(text)]);
        call.body = body;
        return {
          status: step.status,
          headers: { 'content-type': 'application/json', ...step.headers },
          body,
        };
      }
      const events = step.sse.map((e) => (typeof e === 'string' ? e : sse(e[0], e[1])));
      let i = 0;
      let timer: NodeJS.Timeout | undefined;
      const body = new Readable({
        read() {
          if (timer) return;
          if (step.cutAfter !== undefined && i === step.cutAfter) {
            this.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
            return;
          }
          if (step.stallAfter !== undefined && i === step.stallAfter) return;
          if (i >= events.length) {
            if (!step.keepOpen) this.push(null);
            return;
          }
          const push = () => {
            timer = undefined;
            this.push(Buffer.from(events[i++] as string));
          };
          if (step.gapMs && i > 0) timer = setTimeout(push, step.gapMs);
          else push();
        },
        destroy(err, cb) {
          clearTimeout(timer);
          cb(err);
        },
      });
      signal.addEventListener('abort', () => body.destroy(), { once: true });
      call.body = body;
      return {
        status: step.status ?? 200,
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'request-id': `req_${name}`,
          ...step.headers,
        },
        body,
      };
    },
    async close() {},
  };
  return up;
}

/**
 * Real timers, virtual sleeps: `sleep` returns at once and moves `now` forward; `sleeps` records each wait. With
 * `frozen`, `now` moves only by sleeps and `advance` (exact waits; for tests without real-time limits).
 */
export function fakeClock(frozen = false): Clock & { sleeps: number[]; advance(ms: number): void } {
  let offset = 0;
  const sleeps: number[] = [];
  const base = Date.now();
  return {
    sleeps,
    now: () => (frozen ? base : Date.now()) + offset,
    async sleep(ms, signal) {
      if (signal.aborted) throw signal.reason;
      sleeps.push(ms);
      offset += ms;
    },
    setTimer: realClock.setTimer,
    advance(ms) {
      offset += ms;
    },
  };
}

/** Reads a stream to a string, failing if it takes longer than `ms`. */
export async function readText(body: Readable, ms = 3000): Promise<string> {
  const chunks: Buffer[] = [];
  const timeout = setTimeout(() => body.destroy(new Error(`stream not finished within ${ms} ms`)), ms);
  try {
    for await (const c of body) chunks.push(c as Buffer);
  } finally {
    clearTimeout(timeout);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Event names of an SSE transcript, in order. */
export function eventNames(text: string): string[] {
  return [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1] as string);
}

export const unreachable = () =>
  new GatewayError('ERR_UPSTREAM_UNREACHABLE', 'The upstream could not be reached.');
export const timeout = () => new GatewayError('ERR_UPSTREAM_TIMEOUT', 'The upstream did not answer in time.');

/** The virtual sleeps match `expected` to within a few ms (real time passes between computing and taking a wait). */
export function expectSleeps(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((ms, i) => {
    expect(ms).toBeLessThanOrEqual(expected[i] as number);
    expect(ms).toBeGreaterThan((expected[i] as number) - 20);
  });
}
