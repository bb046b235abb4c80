/**
 * The mock Anthropic upstream: msw handlers (./handlers.ts) served over real HTTP on loopback, with an in-process
 * control API (script the next responses, inspect recorded requests, release held streams) that is also reachable
 * over HTTP under `/__ocg/control/*`.
 *
 * @example
 * const mock = await startMockAnthropic({ apiKey: 'sk-ant-test' });
 * mock.enqueue({ status: 429 });                       // the next request gets a rate-limit error
 * mock.enqueue({ holdAfter: 1 });                      // the next stream stalls after its first event
 * const seen = await mock.waitForRequest((r) => r.url.startsWith('/v1/messages'), 5000);
 * mock.release();
 * await mock.close();
 */
import { randomBytes } from 'node:crypto';
import { type Exchange, serveHandlers } from '../serve.ts';
import { type AnthropicMockState, createAnthropicHandlers } from './handlers.ts';
import type { MockScript } from './script.ts';

export type { Exchange as RecordedRequest, ExchangeOutcome } from '../serve.ts';
export type { MockEvent } from './responses.ts';
export { DEFAULT_ANSWER } from './responses.ts';
export type { MockScript } from './script.ts';

export interface MockAnthropicOptions {
  /** The key the mock requires in `x-api-key` (default: a random `sk-ant-mock-…`). */
  apiKey?: string;
  /** Port on 127.0.0.1 (default: any free port). */
  port?: number;
}

export interface MockAnthropic {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly apiKey: string;
  /** Requests received since the last `reset()`, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  /** Scripts the next response(s), in order. */
  enqueue(...scripts: MockScript[]): void;
  /** Resolves with the first recorded request matching `predicate` (already received or arriving later). */
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  /** Lets every stream held by `holdAfter` continue. */
  release(): void;
  /** Forgets scripts and recorded requests and releases held streams. */
  reset(): void;
  close(): Promise<void>;
}

interface Waiter {
  predicate: (request: Exchange) => boolean;
  resolve: (request: Exchange) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function toJson(r: Exchange): Record<string, unknown> {
  return {
    seq: r.seq,
    method: r.method,
    url: r.url,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.body,
    receivedAt: r.receivedAt,
    closedByClient: r.closedByClient,
    response: r.response ?? null,
  };
}

/** Starts the mock Anthropic upstream on 127.0.0.1. */
export async function startMockAnthropic(options: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const apiKey = options.apiKey ?? `sk-ant-mock-${randomBytes(18).toString('base64url')}`;
  const queue: MockScript[] = [];
  let requests: Exchange[] = [];
  let waiters: Waiter[] = [];
  let releaseGate = Promise.withResolvers<void>();

  const waitForRequest = (predicate: (r: Exchange) => boolean = () => true, timeoutMs = 5000) => {
    const found = requests.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<Exchange>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new Error(`the mock upstream saw no matching request within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      waiters.push(waiter);
    });
  };

  const state: AnthropicMockState = {
    apiKey,
    takeScript() {
      const head = queue[0];
      if (!head) return undefined;
      const times = head.times ?? 1;
      if (times <= 1) queue.shift();
      else queue[0] = { ...head, times: times - 1 };
      return head;
    },
    enqueue: (...scripts) => {
      queue.push(...scripts);
    },
    waitForRelease(signal) {
      const gate = releaseGate.promise;
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        void gate.then(resolve);
      });
    },
    release() {
      releaseGate.resolve();
      releaseGate = Promise.withResolvers<void>();
    },
    reset() {
      queue.length = 0;
      requests = [];
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('the mock upstream was reset'));
      }
      waiters = [];
      state.release();
    },
    requestsJson: () => requests.map(toJson),
    waitForRequestJson: async (filter, timeoutMs) =>
      toJson(
        await waitForRequest(
          (r) =>
            (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
            (filter.pathPrefix === undefined || r.url.startsWith(filter.pathPrefix)),
          timeoutMs,
        ),
      ),
  };

  const served = await serveHandlers(createAnthropicHandlers(state), {
    port: options.port,
    onExchange(exchange) {
      if (exchange.url.startsWith('/__ocg/')) return false;
      requests.push(exchange);
      for (const w of waiters.filter((w) => w.predicate(exchange))) {
        clearTimeout(w.timer);
        w.resolve(exchange);
      }
      waiters = waiters.filter((w) => !w.predicate(exchange));
      return true;
    },
  });

  return {
    url: served.url,
    apiKey,
    get requests() {
      return requests;
    },
    enqueue: state.enqueue,
    waitForRequest,
    release: state.release,
    reset: state.reset,
    async close() {
      state.reset();
      await served.close();
    },
  };
}
