/**
 * The mock Google Vertex AI upstream (Anthropic models): msw handlers (./handlers.ts) served over real HTTP on
 * loopback, with the same control API as the Anthropic mock (script the next responses, inspect recorded requests,
 * release held streams), also reachable over HTTP under `/__ocg/control/*`.
 *
 * A script with a status ≥ 400 and no body answers the Google error envelope for that status (429
 * RESOURCE_EXHAUSTED, 503 UNAVAILABLE, …; 529 answers Anthropic's `overloaded_error`, as a model-level error
 * passes through Vertex); script `body` to answer anything else, e.g. an Anthropic envelope.
 *
 * @example
 * const mock = await startMockVertex({ accessToken: 'ya29.test', projectId: 'my-project' });
 * // base URL for clients: `${mock.url}/v1`
 * mock.enqueue({ status: 429 });  // → {"error":{"code":429,"message":"Quota exceeded…","status":"RESOURCE_EXHAUSTED"}}
 * await mock.close();
 */
import { randomBytes } from 'node:crypto';
import type { MockScript } from '../anthropic/script.ts';
import { type Exchange, serveHandlers } from '../serve.ts';
import { createVertexHandlers, type VertexMockState } from './handlers.ts';

export type { Exchange as RecordedRequest, ExchangeOutcome } from '../serve.ts';
export { googleErrorEnvelope, googleStatusFor } from './handlers.ts';

/** The body version Vertex documents for Anthropic models. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
/**
 * The API version `@anthropic-ai/vertex-sdk` ≥ 1.0 copies from its `anthropic-version` header into the body
 * (SDK 1.16 default header): accepted too, so the official SDK is served unmodified.
 */
export const SDK_API_VERSION = '2026-10-21';

export interface MockVertexOptions {
  /** The OAuth2 access token the mock requires as `Authorization: Bearer` (default: a random `ya29.mock-…`). */
  accessToken?: string;
  /**
   * Accept any token this returns true for instead of `accessToken` alone (tokens that rotate, e.g. from a fake
   * OAuth2 token endpoint).
   */
  acceptToken?: (token: string) => boolean;
  /** Serve only this project (others get 403 PERMISSION_DENIED). Default: any project. */
  projectId?: string;
  /** Accepted `anthropic_version` body values (default: vertex-2023-10-16 and the SDK's API version). */
  versions?: readonly string[];
  port?: number;
}

export interface MockVertex {
  /** Origin, e.g. `http://127.0.0.1:41234`; the Vertex base URL is `${url}/v1`. */
  readonly url: string;
  readonly accessToken: string;
  /** Requests received since the last `reset()`, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  enqueue(...scripts: MockScript[]): void;
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  release(): void;
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

/** Starts the mock Vertex upstream on 127.0.0.1. */
export async function startMockVertex(options: MockVertexOptions = {}): Promise<MockVertex> {
  const accessToken = options.accessToken ?? `ya29.mock-${randomBytes(18).toString('base64url')}`;
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
          reject(new Error(`the mock Vertex upstream saw no matching request within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      waiters.push(waiter);
    });
  };

  const state: VertexMockState = {
    acceptsToken: options.acceptToken ?? ((token) => token === accessToken),
    projectId: options.projectId,
    versions: new Set(options.versions ?? [VERTEX_ANTHROPIC_VERSION, SDK_API_VERSION]),
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
        w.reject(new Error('the mock Vertex upstream was reset'));
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

  const served = await serveHandlers(createVertexHandlers(state), {
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
    accessToken,
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
