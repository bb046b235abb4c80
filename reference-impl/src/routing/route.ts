/**
 * The router: sends one client request to a model's targets with retries and failover that
 * the client never sees, and hands back an Anthropic-shaped answer for relay.ts to relay unchanged.
 *
 * - Retries and failover happen only before anything reaches the client (ROUTING-1): the router returns a response
 *   only once it is committed to it. Non-streaming answers are read whole first (relay.ts holds them whole anyway
 *   to set content-length), so a body cut short is retried too.
 * - Streams: `message_start` and `ping` (and `content_block_start`, which carries no content yet) are held back
 *   until the first content event, for at most the first-token limit (ROUTING-6). A failure, an early end, an
 *   `error` event of a retryable type or silence past the limit before that point is retried or failed over; the
 *   client saw nothing of it.
 * - After release the stream is relayed with back-pressure, the events of one upstream chunk as one buffer (one
 *   client write per upstream read); relay.ts writes them without parsing them again (`framed`). A malformed event is dropped and logged
 *   (ROUTING-8); `message_stop` ends the client's stream even if the upstream stays open (ROUTING-9), and the upstream
 *   gets `stopGraceMs` to end its body so its connection is reused, else it is cut (ROUTING-16); a
 *   cut or a stall past the idle limit ends it with an SSE `error` event and marks the request failed (ROUTING-7).
 * - Triggers and non-retryable 4xx: ./classify.ts (ROUTING-2, ROUTING-3, ROUTING-10, ROUTING-11). Attempts are bounded
 *   per target and per request; retries of one target are spaced by exponential backoff with jitter or the
 *   upstream's `retry-after(-ms)`, whichever is longer, and a target whose wait ends after the deadline is dropped
 *   (ROUTING-4, ROUTING-5). Failover to another target is immediate.
 * - A circuit breaker per target (./breaker.ts, ROUTING-12): open targets are skipped; when every target is open the
 *   client gets `529 overloaded_error` with `retry-after` at the next probe.
 * - The client's disconnect aborts the attempt in flight at once (ROUTING-14); `facts` keep the usage seen so far and
 *   name the target that actually answered (ROUTING-15).
 */
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { findTopLevelMembers, replaceSpan } from '../policy/request-model.ts';
import type { UpstreamRequest, UpstreamResponse } from '../upstream/anthropic.ts';
import {
  type BreakerOptions,
  BreakerRegistry,
  type BreakerSnapshot,
  type CircuitBreaker,
} from './breaker.ts';
import {
  type Classification,
  classifyStatus,
  classifyStreamError,
  classifyThrown,
  clientError,
  envelopeType,
} from './classify.ts';
import { errorEvent, type SseEvent, splitEvents } from './events.ts';
import { findRoute, orderTargets, type Route, type RouteTarget, targetKey } from './targets.ts';

/** Time source and timers, injectable so tests neither sleep nor race the wall clock. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface RouterOptions {
  logger: Logger;
  breaker?: BreakerOptions;
  /** Attempts on one target within one request (default 2). */
  maxAttemptsPerTarget?: number;
  /** Attempts within one request, all targets together (default 4). */
  maxAttemptsPerRequest?: number;
  /**
   * Default overall deadline (ms from the call) for getting an answer the client can be given: response headers
   * and, for a stream, its first content (default 120 s, room for one failover after a target that stayed silent
   * for the whole first-token limit). Non-streaming requests get at least 10 minutes, because
   * their upstream sends headers only once the whole answer is ready.
   */
  deadlineMs?: number;
  /** Limit from an attempt's start to the first content event of a stream (default 60 s). */
  firstTokenMs?: number;
  /** Longest silence between upstream chunks once a stream was released to the client (default 60 s). */
  idleMs?: number;
  /** First retry backoff (default 500 ms), doubled per retry of the same target up to `backoffMaxMs` (8 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * After `message_stop`, how long the upstream may take to end its body before it is cut (default 1 s): ending on
   * its own keeps its connection reusable; the client's stream has ended already either way.
   */
  stopGraceMs?: number;
  /** Largest non-streaming answer held (default 64 MiB, as relay.ts). */
  maxJsonBytes?: number;
  /** In [0, 1): jitter and weighted order (injectable for tests). */
  random?: () => number;
  clock?: Clock;
}

/** The client request as the handler has it; the router adds the signal and the target's model id. */
export type RouteRequest = Omit<UpstreamRequest, 'signal' | 'upstreamModel'>;

export interface AttemptRecord {
  upstream: string;
  model: string;
  /** `ok`, or the classification's reason (`upstream 529`, `upstream timeout`, `first token timeout`, …). */
  outcome: string;
  status?: number;
  durationMs: number;
}

/** What the request record needs; filled in as the request proceeds (read it after the relay finishes). */
export interface RouteFacts {
  /** The upstream and upstream model of the attempt that answered (or of the last attempt). */
  upstream?: string;
  model?: string;
  attempts: AttemptRecord[];
  inputTokens?: number;
  outputTokens?: number;
  /** The stream broke after content reached the client (or carried an upstream `error` event). */
  failed: boolean;
  errorType?: string;
}

export interface SendOptions {
  /** The client's signal: aborting it aborts the attempt in flight (ROUTING-14). */
  signal: AbortSignal;
  /** Absolute deadline (clock ms) for an answer the client can be given; default from `deadlineMs`. */
  deadline?: number;
  /** Put into the SSE `error` events the router writes. */
  requestId?: string;
  /** Filled in place (pass `ctx`-owned object to keep usage when the client disconnects mid-request). */
  facts?: RouteFacts;
  /**
   * Called synchronously whenever `facts` change (attempt started, usage seen, stream failed), so a request record
   * written the moment the client disconnects already has them (ROUTING-14).
   */
  onFacts?: (facts: RouteFacts) => void;
}

export interface RoutedResponse {
  /** Anthropic-shaped: JSON (body held whole) or `text/event-stream` produced incrementally. */
  response: UpstreamResponse;
  /** The upstream's name and the upstream model id that answered. */
  upstream: string;
  model: string;
  facts: RouteFacts;
  /** Settles (never rejects) when the response body has finished, failed or been abandoned. */
  done: Promise<RouteFacts>;
}

export interface Router {
  /**
   * Sends a request for canonical model `modelId`.
   *
   * @throws GatewayError the client's error (Anthropic envelope, generic message): the upstream's non-retryable 4xx
   *   once; `502 api_error` when every target failed (never 401); `529 overloaded_error` when every breaker is open;
   *   the last retryable status (429/529/5xx, with `retry-after`) when attempts ran out on it.
   * @throws the signal's reason when the client went away.
   */
  send(modelId: string, request: RouteRequest, options: SendOptions): Promise<RoutedResponse>;
  /** Breaker state of every target (ROUTING-13). */
  health(): BreakerSnapshot[];
}

interface TargetState {
  target: RouteTarget;
  key: string;
  model: string;
  breaker: CircuitBreaker;
  attempts: number;
  notBefore: number;
  out: boolean;
}

/** Events held back until the first content: they carry nothing the client can show yet. */
const OPENING_EVENTS = new Set(['message_start', 'ping', 'content_block_start', 'message']);
/** An unterminated event larger than this breaks the stream (bounds memory). */
const MAX_PENDING = 8 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
/** setTimeout's largest delay (a larger one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

const TIMEOUT: Classification = {
  disposition: 'retry',
  breakerFailure: true,
  status: 504,
  type: 'api_error',
  reason: 'first token timeout',
};
const EARLY_END: Classification = {
  disposition: 'retry',
  breakerFailure: true,
  status: 502,
  type: 'api_error',
  reason: 'stream ended before content',
};
const BROKEN: Classification = {
  disposition: 'retry',
  breakerFailure: true,
  status: 502,
  type: 'api_error',
  reason: 'stream broken before content',
};

type AttemptResult =
  | { kind: 'answer'; response: UpstreamResponse; done: Promise<void> }
  | { kind: 'failed'; c: Classification };

export function createRouter(routes: readonly Route[], options: RouterOptions): Router {
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const log = options.logger;
  const breakers = new BreakerRegistry(options.breaker, () => clock.now());
  const maxPerTarget = options.maxAttemptsPerTarget ?? 2;
  const maxPerRequest = options.maxAttemptsPerRequest ?? 4;
  const deadlineMs = options.deadlineMs ?? 120_000;
  const firstTokenMs = options.firstTokenMs ?? 60_000;
  const idleMs = options.idleMs ?? 60_000;
  const backoffBase = options.backoffBaseMs ?? 500;
  const backoffMax = options.backoffMaxMs ?? 8_000;
  const maxJson = options.maxJsonBytes ?? 64 * 1024 * 1024;
  const stopGraceMs = options.stopGraceMs ?? 1000;

  // Breakers exist from boot so admins see every target, not only those that served traffic.
  for (const r of routes)
    for (const t of r.targets) if (t.model !== undefined) breakers.get(targetKey(t, r.model));

  const backoff = (retry: number) =>
    Math.min(backoffBase * 2 ** (retry - 1), backoffMax) * (1 - 0.25 * random());

  async function send(modelId: string, request: RouteRequest, opts: SendOptions): Promise<RoutedResponse> {
    const route = findRoute(routes, modelId);
    if (!route || route.targets.length === 0) {
      throw new GatewayError('ERR_MODEL_UNKNOWN', `model '${modelId}' is not served by any upstream`);
    }
    const facts: RouteFacts = opts.facts ?? { attempts: [], failed: false };
    const started = clock.now();
    const deadline =
      opts.deadline ?? started + (request.awaitsWholeAnswer ? Math.max(deadlineMs, 600_000) : deadlineMs);
    const states: TargetState[] = orderTargets(route.targets, random).map((target) => {
      const key = targetKey(target, modelId);
      return {
        target,
        key,
        model: target.model ?? modelId,
        breaker: breakers.get(key),
        attempts: 0,
        notBefore: 0,
        out: false,
      };
    });
    let last: Classification | undefined;
    let total = 0;

    for (;;) {
      if (opts.signal.aborted) throw opts.signal.reason;
      const now = clock.now();
      const candidates = states.filter((s) => !s.out && s.attempts < maxPerTarget);
      if (total >= maxPerRequest || candidates.length === 0 || now >= deadline) break;
      const open = candidates.filter((s) => !s.breaker.available);
      const usable = candidates.filter((s) => s.breaker.available);
      if (usable.length === 0) {
        if (total === 0) {
          const due = Math.min(...open.map((s) => s.breaker.probeDueAt ?? now));
          log.warn('every target of the route is open', { model: modelId, targets: open.map((s) => s.key) });
          throw new GatewayError('ERR_UPSTREAM_STATUS', 'No upstream is available; retry later.', {
            status: 529,
            type: 'overloaded_error',
            headers: { 'retry-after': String(Math.max(1, Math.ceil((due - now) / 1000))) },
          });
        }
        break;
      }
      // Fewest attempts first (immediate failover), priority order among equals; wait if none is due yet.
      const fewest = Math.min(...usable.map((s) => s.attempts));
      const next =
        usable.find((s) => s.attempts === fewest && s.notBefore <= now) ??
        usable.find((s) => s.notBefore <= now);
      if (!next) {
        const wakeAt = Math.min(...usable.map((s) => s.notBefore));
        if (wakeAt >= deadline) break;
        await clock.sleep(wakeAt - now, opts.signal);
        continue;
      }
      if (!next.breaker.tryAcquire()) continue;
      next.attempts++;
      total++;
      facts.upstream = next.target.upstream.name;
      facts.model = next.model;
      opts.onFacts?.(facts);
      const attemptStart = clock.now();
      const result = await attempt(next, request, opts, facts, deadline);
      if (result.kind === 'answer') {
        facts.attempts.push({
          upstream: next.target.upstream.name,
          model: next.model,
          outcome: 'ok',
          status: result.response.status,
          durationMs: clock.now() - attemptStart,
        });
        return {
          response: result.response,
          upstream: next.target.upstream.name,
          model: next.model,
          facts,
          done: result.done.then(() => facts),
        };
      }
      const c = result.c;
      facts.attempts.push({
        upstream: next.target.upstream.name,
        model: next.model,
        outcome: c.reason,
        status: c.status,
        durationMs: clock.now() - attemptStart,
      });
      if (c.disposition === 'final') throw clientError(c);
      // Keep the most telling failure for the client: an auth failure never hides a rate limit or an overload.
      if (!(isAuth(c) && last !== undefined && !isAuth(last))) last = c;
      if (c.disposition === 'failover') {
        next.out = true;
        continue;
      }
      const wait = Math.max(backoff(next.attempts), c.retryAfterMs ?? 0);
      next.notBefore = clock.now() + wait;
      if (next.notBefore >= deadline) {
        // ROUTING-4: a wait past the deadline cannot be honoured; this target is done for the request.
        next.out = true;
      }
    }
    if (opts.signal.aborted) throw opts.signal.reason;
    log.warn('no target could serve the request', {
      model: modelId,
      attempts: facts.attempts,
      elapsed_ms: clock.now() - started,
    });
    if (!last) throw new GatewayError('ERR_UPSTREAM_UNREACHABLE', 'No upstream could serve the request.');
    // Only refused gateway credentials were left: retrying cannot help until the operator fixes them, and Claude
    // Code would otherwise retry a 502 for minutes (protocol-facts §0; it honours x-should-retry).
    throw clientError(last, undefined, isAuth(last) ? { 'x-should-retry': 'false' } : {});
  }

  /** One attempt on one target; never throws except for the client's abort. */
  async function attempt(
    s: TargetState,
    request: RouteRequest,
    opts: SendOptions,
    facts: RouteFacts,
    deadline: number,
  ): Promise<AttemptResult> {
    const ac = new AbortController();
    let timedOut = false;
    let body: Readable | undefined;
    const onClientAbort = () => {
      ac.abort(opts.signal.reason);
      body?.destroy();
    };
    opts.signal.addEventListener('abort', onClientAbort, { once: true });
    const limit = Math.max(
      0,
      Math.min(
        deadline - clock.now(),
        request.awaitsWholeAnswer ? Number.POSITIVE_INFINITY : firstTokenMs,
        MAX_TIMER_MS,
      ),
    );
    const cancelTimer = clock.setTimer(() => {
      timedOut = true;
      ac.abort(new Error('first-token limit'));
      body?.destroy();
    }, limit);
    const alog = log.child({
      ...(opts.requestId ? { request_id: opts.requestId } : {}),
      upstream: s.target.upstream.name,
      upstream_model: s.model,
      attempt: s.attempts,
    });
    const detach = () => opts.signal.removeEventListener('abort', onClientAbort);
    const cleanup = () => {
      cancelTimer();
      detach();
    };
    const fail = (c: Classification): AttemptResult => {
      cleanup();
      ac.abort();
      body?.destroy();
      if (c.breakerFailure) s.breaker.failure();
      else s.breaker.success();
      return { kind: 'failed', c };
    };
    const abandoned = (): never => {
      cleanup();
      s.breaker.release();
      body?.destroy();
      throw opts.signal.reason;
    };

    let res: UpstreamResponse;
    try {
      res = await s.target.upstream.send({
        ...request,
        body: bodyFor(s.target, request.body),
        upstreamModel: s.target.model,
        signal: ac.signal,
      });
    } catch (err) {
      if (opts.signal.aborted) return abandoned();
      if (timedOut) {
        alog.warn('upstream did not answer within the limit', { limit_ms: limit });
        return fail(TIMEOUT);
      }
      const c = classifyThrown(err);
      alog.warn('upstream attempt failed', { reason: c.reason, err });
      return fail(c);
    }
    body = res.body;
    if (timedOut) body.destroy();

    if (res.status < 200 || res.status >= 300) {
      let text = '';
      try {
        text = (await readAll(body, MAX_ERROR_BODY)).toString('utf8');
      } catch {
        body.destroy();
      }
      if (opts.signal.aborted) return abandoned();
      const type = envelopeType(text);
      let c = classifyStatus(res.status, type, res.headers, clock.now());
      if (isCredentialFailure(res) && c.disposition !== 'final') {
        // A provider that says its own credential was refused (Bedrock answers those as 502): another try on the
        // same target cannot help; fail over at once (ROUTING-10).
        c = { ...c, disposition: 'failover', reason: 'upstream auth' };
      }
      // ROUTING-11: the upstream's own words go to the operator's log only.
      alog.warn('upstream answered an error', {
        upstream_status: res.status,
        upstream_error_type: type,
        upstream_message: text.slice(0, 2000),
        upstream_request_id: res.headers['request-id'],
        disposition: c.disposition,
      });
      return fail(c);
    }

    const contentType = String(res.headers['content-type'] ?? '');
    if (!/^text\/event-stream\b/i.test(contentType)) {
      try {
        const bytes = await readAll(body, maxJson);
        cleanup();
        s.breaker.success();
        readJsonUsage(bytes, facts);
        opts.onFacts?.(facts);
        return {
          kind: 'answer',
          response: { ...res, body: Readable.from([bytes]) },
          done: Promise.resolve(),
        };
      } catch (err) {
        if (opts.signal.aborted) return abandoned();
        alog.warn('upstream answer was cut short', { err, timed_out: timedOut });
        return fail(timedOut ? TIMEOUT : BROKEN);
      }
    }
    return streamAttempt(s, res, ac, opts, facts, alog, {
      cancelTimer,
      detach,
      fail,
      abandoned,
      timedOut: () => timedOut,
    });
  }

  /** Holds back a stream's opening events until content arrives, then relays it (see the module doc). */
  function streamAttempt(
    s: TargetState,
    res: UpstreamResponse,
    ac: AbortController,
    opts: SendOptions,
    facts: RouteFacts,
    alog: Logger,
    ctl: {
      cancelTimer: () => void;
      detach: () => void;
      fail: (c: Classification) => AttemptResult;
      abandoned: () => never;
      timedOut: () => boolean;
    },
  ): Promise<AttemptResult> {
    const { fail, abandoned, timedOut } = ctl;
    const { body, headers } = decodedBody(res);
    if (body !== res.body) opts.signal.addEventListener('abort', () => body.destroy(), { once: true });
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    // A body that is not SSE (Bedrock's event stream) is turned into events by its kind's decoder.
    const { decoder } = res;
    const held: Buffer[] = [];
    let out: Readable | null = null;
    let wantMore: (() => void) | null = null;
    let clientGone = false;
    let stalled = false;
    let upstreamError: string | undefined;
    /** The client's stream was ended by us (push(null)). */
    let ended = false;
    const finished = Promise.withResolvers<void>();
    void finished.promise.then(ctl.detach);
    const outcome = Promise.withResolvers<AttemptResult>();

    const release = () => {
      ctl.cancelTimer();
      s.breaker.success();
      const clientHeaders = { ...headers };
      delete clientHeaders['content-length'];
      out = new Readable({
        read() {
          const w = wantMore;
          wantMore = null;
          w?.();
        },
        destroy(err, cb) {
          if (ended) {
            // The normal auto-destroy after the consumer read our end: nothing to abort.
            cb(err);
            return;
          }
          // The consumer (relay.ts) gave up: the client went away. Abort the upstream at once (ROUTING-14).
          clientGone = true;
          ac.abort();
          body.destroy();
          const w = wantMore;
          wantMore = null;
          w?.();
          cb(err);
        },
      });
      outcome.resolve({
        kind: 'answer',
        // Whole events, already read for usage and errors: relay.ts writes them as they are.
        response: {
          status: res.status,
          headers: clientHeaders,
          body: out,
          framed: true,
          ending: () => ended,
        },
        done: finished.promise,
      });
    };

    /** Hands one batch (the events of one upstream chunk) to the client's stream as one buffer: one write. */
    const emit = async (batch: Buffer[]) => {
      const o = out as Readable;
      if (o.destroyed) return;
      // A copy even for one event: the views point into the upstream's chunk, which need not outlive the write.
      if (!o.push(Buffer.concat(batch))) await new Promise<void>((resolve) => (wantMore = resolve));
    };

    const endClient = (extra?: Buffer) => {
      const o = out as Readable;
      if (!o.destroyed) {
        // Before the push: a consumer that sees `extra` can tell it is the last chunk (see `ending`).
        ended = true;
        if (extra) o.push(extra);
        o.push(null);
      }
      ac.abort();
      body.destroy();
      finished.resolve();
    };

    /**
     * The client's stream ends now. The upstream normally ends its body right after `message_stop`: let it, for a
     * short grace, so its connection goes back to the pool; one that stays open is cut after the grace.
     */
    const finishAfterStop = (last: Buffer[]) => {
      const o = out as Readable;
      if (!o.destroyed) {
        ended = true;
        // The last batch and the end together: relay.ts then writes both in one packet.
        if (last.length > 0) o.push(Buffer.concat(last));
        o.push(null);
      }
      finished.resolve();
      const cancel = clock.setTimer(() => {
        ac.abort();
        body.destroy();
      }, stopGraceMs);
      void (async () => {
        try {
          for (;;) if ((await it.next()).done) break;
        } catch {
          // cut after the grace, or the upstream went away: nothing to tell anyone
        } finally {
          cancel();
        }
      })();
    };

    const streamFailed = (message: string, err?: unknown) => {
      facts.failed = true;
      facts.errorType = 'api_error';
      opts.onFacts?.(facts);
      s.breaker.failure();
      alog.warn('upstream stream failed after content reached the client', { reason: message, err, stalled });
      endClient(errorEvent('api_error', message, opts.requestId));
    };

    let cancelIdle: (() => void) | null = null;
    const armIdle = () => {
      cancelIdle = clock.setTimer(() => {
        stalled = true;
        body.destroy(new Error('idle limit'));
      }, idleMs);
    };

    /**
     * Reads one event; what the client is to get goes into `batch` (the held opening events first, at release).
     * `failed`: retried or failed over before content (outcome settled); `stop`: `message_stop` was relayed.
     */
    const handle = (ev: SseEvent, batch: Buffer[]): 'continue' | 'failed' | 'stop' => {
      if (ev.malformed) {
        alog.warn('dropped a malformed upstream SSE event', { event: ev.name, bytes: ev.raw.length });
        return 'continue';
      }
      if (observeUsage(ev, facts)) opts.onFacts?.(facts);
      if (out === null) {
        if (OPENING_EVENTS.has(ev.name)) {
          held.push(ev.raw);
          return 'continue';
        }
        if (ev.name === 'error') {
          const type = (ev.data?.error as { type?: unknown } | undefined)?.type;
          const c = classifyStreamError(typeof type === 'string' ? type : undefined);
          if (c.disposition === 'retry') {
            alog.warn('upstream stream failed before content', { upstream_error_type: type });
            ac.abort();
            body.destroy();
            outcome.resolve(fail(c));
            finished.resolve();
            return 'failed';
          }
        }
        release();
        batch.push(...held);
        held.length = 0;
      }
      if (ev.name === 'error') {
        const type = (ev.data?.error as { type?: unknown } | undefined)?.type;
        upstreamError = typeof type === 'string' ? type : 'api_error';
        facts.failed = true;
        facts.errorType = upstreamError;
        opts.onFacts?.(facts);
      }
      batch.push(ev.raw);
      // ROUTING-9: finished for the client at message_stop, whatever the upstream does with its connection.
      return ev.name === 'message_stop' ? 'stop' : 'continue';
    };

    const run = async () => {
      let pending: Buffer = Buffer.alloc(0);
      try {
        for (;;) {
          if (out !== null) armIdle();
          const r = await it.next();
          cancelIdle?.();
          cancelIdle = null;
          if (r.done) break;
          let events: SseEvent[];
          let decoded: ReturnType<NonNullable<typeof decoder>['push']> | undefined;
          if (decoder) {
            decoded = decoder.push(r.value);
            events = decoded.events;
          } else {
            pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
            const split = splitEvents(pending);
            events = split.events;
            pending = split.rest;
            if (pending.length > MAX_PENDING) throw new Error('unterminated SSE event over the size limit');
          }
          const batch: Buffer[] = [];
          let verdict: 'continue' | 'failed' | 'stop' = 'continue';
          for (const ev of events) {
            verdict = handle(ev, batch);
            if (verdict !== 'continue') break;
          }
          if (verdict === 'failed') return;
          if (verdict === 'stop') {
            finishAfterStop(batch);
            return;
          }
          if (decoded?.error !== undefined) {
            // The events before the break are good: they go out, then the stream fails as a broken one does.
            if (batch.length > 0) await emit(batch);
            throw decoded.error;
          }
          if (decoded?.end === true) {
            // Over without message_stop: on an error event (Bedrock's exception frame), already passed on. The
            // upstream gets the same grace to end its body as after message_stop.
            if (upstreamError !== undefined) s.breaker.failure();
            finishAfterStop(batch);
            return;
          }
          if (batch.length > 0) await emit(batch);
          if (clientGone) return;
        }
        decoder?.finish();
        if (out === null) {
          if (opts.signal.aborted) throw opts.signal.reason;
          alog.warn('upstream stream ended before any content', { timed_out: timedOut() });
          outcome.resolve(fail(timedOut() ? TIMEOUT : EARLY_END));
          finished.resolve();
        } else if (upstreamError !== undefined) {
          // The upstream's own error event already told the client; end as it did.
          s.breaker.failure();
          endClient();
        } else {
          streamFailed('The upstream stream ended before message_stop.');
        }
      } catch (err) {
        cancelIdle?.();
        if (out === null) {
          if (opts.signal.aborted) {
            try {
              abandoned();
            } catch (reason) {
              outcome.reject(reason);
            }
          } else if (timedOut()) {
            alog.warn('upstream sent no content within the first-token limit');
            outcome.resolve(fail(TIMEOUT));
          } else {
            alog.warn('upstream stream broke before content', { err });
            outcome.resolve(fail(BROKEN));
          }
          finished.resolve();
        } else if (clientGone || opts.signal.aborted) {
          s.breaker.release();
          endClient();
        } else {
          streamFailed(
            stalled ? 'The upstream stream stalled.' : 'The upstream stream was interrupted.',
            err,
          );
        }
      } finally {
        cancelIdle?.();
        // Every way out settles `done` (a consumer that went away mid-write leaves through a 'stop').
        finished.resolve();
      }
    };
    void run();
    return outcome.promise;
  }

  return { send, health: () => breakers.snapshot() };
}

/**
 * The body a target gets. Bedrock and Vertex take the model from `upstreamModel` (in their URL); the `anthropic` kind
 * reads the body's `model`, so a target with its own model id gets it written into the raw bytes (the rest of the
 * body is left byte for byte, INFERENCE-7). A body whose `model` is not one top-level string is left as it is.
 */
export function bodyFor(target: RouteTarget, body: Buffer): Buffer {
  if (target.upstream.kind !== 'anthropic' || target.model === undefined) return body;
  const spans = findTopLevelMembers(body, 'model');
  if (spans === null || spans.length !== 1) return body;
  return replaceSpan(body, spans[0] as { start: number; end: number }, target.model);
}

/** A provider's marker that the gateway's credential was refused (Bedrock: `bedrockError.credential`). */
function isCredentialFailure(res: UpstreamResponse): boolean {
  return (res as { bedrockError?: { credential?: unknown } }).bedrockError?.credential === true;
}

function isAuth(c: Classification): boolean {
  return c.reason === 'upstream 401' || c.reason === 'upstream 403' || c.reason === 'upstream auth';
}

/** Takes the usage counts of a `message_start` / `message_delta`; true when it found any. */
function observeUsage(ev: SseEvent, facts: RouteFacts): boolean {
  if (ev.name !== 'message_start' && ev.name !== 'message_delta') return false;
  const usage = (
    ev.name === 'message_start'
      ? (ev.data?.message as Record<string, unknown> | undefined)?.usage
      : ev.data?.usage
  ) as Record<string, unknown> | undefined;
  if (!usage) return false;
  // message_delta usage is cumulative: the latest value wins.
  if (typeof usage.input_tokens === 'number') facts.inputTokens = usage.input_tokens;
  if (typeof usage.output_tokens === 'number') facts.outputTokens = usage.output_tokens;
  return true;
}

function readJsonUsage(bytes: Buffer, facts: RouteFacts): void {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const usage = (parsed.usage ?? parsed) as Record<string, unknown>;
    if (typeof usage.input_tokens === 'number') facts.inputTokens = usage.input_tokens;
    if (typeof usage.output_tokens === 'number') facts.outputTokens = usage.output_tokens;
  } catch {
    // relayed as it is; relay.ts reads it again
  }
}

/** The stream body without content-encoding (the router reads the events, so it must see plain bytes). */
function decodedBody(res: UpstreamResponse): { body: Readable; headers: UpstreamResponse['headers'] } {
  const encoding = String(res.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'br'
        ? createBrotliDecompress()
        : encoding === 'deflate'
          ? createInflate()
          : null;
  if (!decoder) return { body: res.body, headers: res.headers };
  const headers = { ...res.headers };
  delete headers['content-encoding'];
  res.body.on('error', (err) => decoder.destroy(err));
  decoder.on('close', () => res.body.destroy());
  return { body: res.body.pipe(decoder), headers };
}

async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new Error(`upstream body larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
