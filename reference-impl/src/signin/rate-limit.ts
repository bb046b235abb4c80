/**
 * Attempt limits for the verification page (SESSION-7, RFC 8628 §5.1): fixed-window counters held in memory.
 *
 * In memory, per replica — a deliberate trade-off for the reference gateway: no write to PostgreSQL for every form
 * post, at the price that N replicas admit N times the configured attempts. The margin stays enormous: a user code
 * has 20^8 ≈ 2.6·10^10 values and lives 10 minutes, so even 100 replicas × 10 failures per IP per window leave an
 * attacker with one IP a chance of about 10^-7 per live code. A deployment that needs exact global limits puts them
 * in its load balancer or moves these counters into the database.
 *
 * The table is bounded (`maxKeys`): expired windows are dropped first, then the oldest keys, so a flood of distinct
 * keys costs memory only up to the bound.
 */
import { type Clock, systemClock } from '../session/util.ts';

export interface LimitRule {
  /** Attempts allowed per window. */
  limit: number;
  windowS: number;
}

export interface Verdict {
  allowed: boolean;
  /** Seconds until the window of a refused key ends (for `Retry-After`); 0 when allowed. */
  retryAfterS: number;
}

export interface RateLimiter {
  /** Counts one attempt for `key` and says whether it is within the limit. */
  hit(key: string): Verdict;
  /** Whether `key` is over its limit now, without counting. */
  check(key: string): Verdict;
  /** Forgets every key (tests). */
  clear(): void;
  readonly size: number;
}

export function createRateLimiter(
  rule: LimitRule,
  options: { now?: Clock; maxKeys?: number } = {},
): RateLimiter {
  const now = options.now ?? systemClock;
  const maxKeys = options.maxKeys ?? 50_000;
  const windows = new Map<string, { count: number; resetAt: number }>();

  function current(key: string, t: number) {
    const w = windows.get(key);
    if (w && w.resetAt > t) return w;
    if (w) windows.delete(key);
    return undefined;
  }

  function makeRoom(t: number): void {
    if (windows.size < maxKeys) return;
    for (const [k, w] of windows) if (w.resetAt <= t) windows.delete(k);
    for (const k of windows.keys()) {
      if (windows.size < maxKeys) break;
      windows.delete(k);
    }
  }

  function verdict(w: { count: number; resetAt: number } | undefined, t: number): Verdict {
    if (!w || w.count <= rule.limit) return { allowed: true, retryAfterS: 0 };
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((w.resetAt - t) / 1000)) };
  }

  return {
    hit(key) {
      const t = now();
      let w = current(key, t);
      if (!w) {
        makeRoom(t);
        w = { count: 0, resetAt: t + rule.windowS * 1000 };
        windows.set(key, w);
      }
      w.count++;
      return verdict(w, t);
    },
    check(key) {
      const t = now();
      const w = current(key, t);
      // Over the limit means: one more attempt would exceed it.
      if (!w || w.count < rule.limit) return { allowed: true, retryAfterS: 0 };
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil((w.resetAt - t) / 1000)) };
    },
    clear() {
      windows.clear();
    },
    get size() {
      return windows.size;
    },
  };
}
