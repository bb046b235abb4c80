/**
 * A circuit breaker per routing target (ROUTING-12, ROUTING-13).
 *
 * closed → open after `failureThreshold` consecutive failures, or when the error rate over the last `windowMs`
 * reaches `errorRateThreshold` with at least `minRequests` outcomes in the window. While open, requests skip the
 * target (they go to the next one) until `coolDownMs` has passed; then it is half-open and lets exactly one probe
 * through. The probe's success closes it; its failure opens it again for another cool-down.
 *
 * State is per process on purpose: every replica sees its own network path to the upstream, and a breaker is a
 * fast local reaction, not a record (brief §3: all durable state in PostgreSQL, none of it here).
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold?: number;
  /** Error rate in [0, 1] over the window that opens the breaker (default 0.5). */
  errorRateThreshold?: number;
  /** Outcomes needed in the window before the error rate counts (default 10). */
  minRequests?: number;
  /** Sliding window for the error rate, ms (default 60 s). */
  windowMs?: number;
  /** How long the breaker stays open before a probe, ms (default 30 s). */
  coolDownMs?: number;
}

/** What admins see per target. Times are ISO 8601 strings or null. */
export interface BreakerSnapshot {
  target: string;
  state: BreakerState;
  consecutiveFailures: number;
  /** Failures / outcomes in the window (0 when the window is empty). */
  errorRate: number;
  /** Outcomes in the window. */
  requests: number;
  openedAt: string | null;
  nextProbeAt: string | null;
}

/** Outcomes kept at most (bounds memory under heavy traffic; the window is also pruned by time). */
const MAX_OUTCOMES = 1024;

export class CircuitBreaker {
  readonly target: string;
  private readonly opts: Required<BreakerOptions>;
  private readonly now: () => number;
  private state: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt: number | null = null;
  private nextProbeAt: number | null = null;
  private probeInFlight = false;
  /** The window's outcomes, oldest first: a ring, so recording one costs the same however busy the target is. */
  private readonly outcomes = new OutcomeRing(MAX_OUTCOMES);

  constructor(target: string, options: BreakerOptions = {}, now: () => number = Date.now) {
    this.target = target;
    this.now = now;
    this.opts = {
      failureThreshold: options.failureThreshold ?? 5,
      errorRateThreshold: options.errorRateThreshold ?? 0.5,
      minRequests: options.minRequests ?? 10,
      windowMs: options.windowMs ?? 60_000,
      coolDownMs: options.coolDownMs ?? 30_000,
    };
  }

  /**
   * May a request go to this target now? In the half-open state this claims the single probe slot: the caller
   * MUST then report `success()`, `failure()` or `release()`.
   */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.nextProbeAt !== null && this.now() >= this.nextProbeAt) {
        this.state = 'half_open';
      } else {
        return false;
      }
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** Would `tryAcquire()` succeed, without claiming anything (for ordering targets). */
  get available(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'half_open') return !this.probeInFlight;
    return this.nextProbeAt !== null && this.now() >= this.nextProbeAt;
  }

  /** Epoch ms of the next probe while open, else null. */
  get probeDueAt(): number | null {
    return this.state === 'open' ? this.nextProbeAt : null;
  }

  success(): void {
    this.record(true);
    this.consecutive = 0;
    this.probeInFlight = false;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.openedAt = null;
      this.nextProbeAt = null;
      // A fresh start: the failures that opened it must not re-open it through the error rate.
      this.outcomes.clear();
      this.outcomes.push(this.now(), true);
    }
  }

  failure(): void {
    this.record(false);
    this.consecutive++;
    const wasProbe = this.state === 'half_open';
    this.probeInFlight = false;
    if (wasProbe || this.shouldOpen()) this.open();
  }

  /** The claimed attempt ended without telling anything about the target (e.g. the client went away). */
  release(): void {
    this.probeInFlight = false;
  }

  snapshot(): BreakerSnapshot {
    this.prune();
    const requests = this.outcomes.size;
    const failures = this.outcomes.failures;
    // An open breaker whose cool-down is over reports half-open: that is what the next request will see.
    const state = this.state === 'open' && this.available ? 'half_open' : this.state;
    return {
      target: this.target,
      state,
      consecutiveFailures: this.consecutive,
      errorRate: requests === 0 ? 0 : failures / requests,
      requests,
      openedAt: this.openedAt === null ? null : new Date(this.openedAt).toISOString(),
      nextProbeAt: this.nextProbeAt === null ? null : new Date(this.nextProbeAt).toISOString(),
    };
  }

  private open(): void {
    const now = this.now();
    this.state = 'open';
    this.openedAt = now;
    this.nextProbeAt = now + this.opts.coolDownMs;
  }

  private shouldOpen(): boolean {
    if (this.state !== 'closed') return false;
    if (this.consecutive >= this.opts.failureThreshold) return true;
    this.prune();
    const n = this.outcomes.size;
    if (n < this.opts.minRequests) return false;
    return this.outcomes.failures / n >= this.opts.errorRateThreshold;
  }

  private record(ok: boolean): void {
    this.outcomes.push(this.now(), ok);
  }

  private prune(): void {
    this.outcomes.dropBefore(this.now() - this.opts.windowMs);
  }
}

/**
 * The last `capacity` outcomes, oldest first, with their failure count kept up to date. A full ring overwrites
 * its oldest entry, so a busy target's window is its last `capacity` outcomes; nothing is allocated per outcome.
 */
class OutcomeRing {
  private readonly capacity: number;
  private readonly times: Float64Array;
  private readonly ok: Uint8Array;
  private head = 0;
  size = 0;
  failures = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.times = new Float64Array(capacity);
    this.ok = new Uint8Array(capacity);
  }

  push(time: number, ok: boolean): void {
    if (this.size === this.capacity) this.dropOldest();
    const i = (this.head + this.size) % this.capacity;
    this.times[i] = time;
    this.ok[i] = ok ? 1 : 0;
    this.size++;
    if (!ok) this.failures++;
  }

  /** Drops the outcomes older than `cutoff` (epoch ms). */
  dropBefore(cutoff: number): void {
    while (this.size > 0 && (this.times[this.head] as number) < cutoff) this.dropOldest();
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
    this.failures = 0;
  }

  private dropOldest(): void {
    if (this.ok[this.head] === 0) this.failures--;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}

/** One breaker per target key, created on first use. */
export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly options: BreakerOptions;
  private readonly now: () => number;

  constructor(options: BreakerOptions = {}, now: () => number = Date.now) {
    this.options = options;
    this.now = now;
  }

  get(target: string): CircuitBreaker {
    let b = this.breakers.get(target);
    if (!b) {
      b = new CircuitBreaker(target, this.options, this.now);
      this.breakers.set(target, b);
    }
    return b;
  }

  /** Every known target's state, in creation order (ROUTING-13). */
  snapshot(): BreakerSnapshot[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }
}
