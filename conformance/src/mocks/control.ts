/**
 * What every mock upstream (Anthropic, Bedrock, Vertex) shares: the queue of scripted responses, the log of recorded
 * requests with waiters on it, and the gate that held streams wait at. Each mock adds its own wire format.
 */
import { type HttpHandler, http } from 'msw';
import type { Exchange } from './serve.ts';

/** The control half a mock's handlers use (also reachable over HTTP under `/__ocg/control/*`). */
export interface ScriptControl<S> {
  /** Takes the script for the next response, if one is queued (a script with `times: n` serves n responses). */
  takeScript(): S | undefined;
  enqueue(...scripts: S[]): void;
  /** Resolves at the next `release()`, or rejects when `signal` aborts. */
  waitForRelease(signal: AbortSignal): Promise<void>;
  release(): void;
  /** Forgets scripts and recorded requests, fails pending waiters and releases held streams. */
  reset(): void;
  /** Recorded requests as plain JSON (for the HTTP control API). */
  requestsJson(): unknown[];
  waitForRequestJson(filter: { method?: string; pathPrefix?: string }, timeoutMs: number): Promise<unknown>;
}

export interface MockControl<S> {
  /** The methods a mock's handler state is made of. */
  readonly script: ScriptControl<S>;
  /** Requests received since the last reset, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  /** Resolves with the first recorded request matching `predicate` (already received or arriving later). */
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  /** `serveHandlers`' `onExchange`: records every request except control requests. */
  onExchange(exchange: Exchange): boolean;
}

interface Waiter {
  predicate: (request: Exchange) => boolean;
  resolve: (request: Exchange) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * @param what names the mock in errors ("the mock Vertex upstream")
 * @param toJson how a recorded request is shown over the HTTP control API
 */
export function createMockControl<S extends { times?: number }>(
  what: string,
  toJson: (r: Exchange) => Record<string, unknown>,
): MockControl<S> {
  const queue: S[] = [];
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
          reject(new Error(`${what} saw no matching request within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      waiters.push(waiter);
    });
  };

  const script: ScriptControl<S> = {
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
        w.reject(new Error(`${what} was reset`));
      }
      waiters = [];
      script.release();
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

  return {
    script,
    get requests() {
      return requests;
    },
    waitForRequest,
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
  };
}

/** A recorded request as plain JSON (the common shape; the Bedrock mock leaves out its binary response body). */
export function exchangeJson(r: Exchange): Record<string, unknown> {
  return {
    seq: r.seq,
    connection: r.connection,
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

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  return text === '' ? {} : JSON.parse(text);
}

/**
 * The control interface over HTTP under `/__ocg/control/*` (no auth: the mocks only listen on loopback).
 *
 * @param scriptProblems what is wrong with a posted script (`[]` when it is valid)
 */
export function controlHandlers<S>(
  state: ScriptControl<S>,
  scriptProblems: (script: unknown) => string[],
): HttpHandler[] {
  const bad = (problems: string[]) => Response.json({ error: problems.join('; ') }, { status: 400 });
  return [
    http.post('*/__ocg/control/enqueue', async ({ request }) => {
      let payload: unknown;
      try {
        payload = await readJson(request);
      } catch {
        return bad(['body must be JSON']);
      }
      const scripts = Array.isArray(payload) ? payload : [payload];
      const problems = scripts.flatMap((s, i) => scriptProblems(s).map((p) => `[${i}] ${p}`));
      if (problems.length > 0) return bad(problems);
      state.enqueue(...(scripts as S[]));
      return new Response(null, { status: 204 });
    }),
    http.get('*/__ocg/control/requests', () => Response.json(state.requestsJson())),
    http.post('*/__ocg/control/wait', async ({ request }) => {
      const filter = (await readJson(request).catch(() => ({}))) as {
        method?: string;
        pathPrefix?: string;
        timeoutMs?: number;
      };
      try {
        return Response.json(await state.waitForRequestJson(filter, filter.timeoutMs ?? 5000));
      } catch (err) {
        return Response.json({ error: String(err) }, { status: 408 });
      }
    }),
    http.post('*/__ocg/control/release', () => {
      state.release();
      return new Response(null, { status: 204 });
    }),
    http.post('*/__ocg/control/reset', () => {
      state.reset();
      return new Response(null, { status: 204 });
    }),
  ];
}
