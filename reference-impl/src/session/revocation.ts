/**
 * Session revocation, as seen by access-token verification.
 *
 * Access tokens are verified without a database read, except for this check: each replica caches "is session X
 * revoked?" for at most `ttlMs` (default and maximum 2000 ms), so a revocation by an admin, a logout or a refresh-
 * token reuse takes effect on every replica within that time plus one request (the issue requires 5 s).
 * A session id the database does not know counts as revoked. Concurrent checks of one session share one query.
 * When the database cannot be reached the check fails closed (`ERR_STORE_UNAVAILABLE`), except that a cached answer
 * is used until it expires.
 */
import { GatewayError } from '../errors.ts';
import type { Queryable, Store } from '../store/store.ts';
import { type Clock, iso, systemClock } from './util.ts';

export const MAX_REVOCATION_TTL_MS = 2000;

export interface RevocationCheck {
  /** True when the session is revoked or unknown. Throws `ERR_STORE_UNAVAILABLE` when it cannot tell. */
  isRevoked(sessionId: string): Promise<boolean>;
}

export interface Revocation extends RevocationCheck {
  /** Revokes one session; true when it was active. The local cache sees it at once, other replicas within the TTL. */
  revokeSession(sessionId: string, reason: string): Promise<boolean>;
  /** Revokes every active session of a subject; returns how many. */
  revokeUserSessions(subject: string, reason: string): Promise<number>;
  /** Records in this replica's cache a revocation made elsewhere in the process (e.g. refresh-token reuse). */
  noteRevoked(sessionId: string): void;
}

export interface RevocationOptions {
  /** Cache lifetime of a session's state, at most 2000 ms. Default 2000. */
  ttlMs?: number;
  now?: Clock;
  /** Cache entries kept before expired ones are swept. Default 100000. */
  maxEntries?: number;
}

/** Marks one session revoked (keeps the first reason and time). Usable inside a transaction. */
export async function revokeSession(
  q: Queryable,
  sessionId: string,
  reason: string,
  nowMs: number = Date.now(),
): Promise<boolean> {
  const r = await q.query(
    'UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
    [sessionId, iso(nowMs), reason],
  );
  return r.rows.length > 0;
}

/** Marks every active session of `subject` revoked; returns the ids. */
export async function revokeUserSessions(
  q: Queryable,
  subject: string,
  reason: string,
  nowMs: number = Date.now(),
): Promise<string[]> {
  const r = await q.query<{ id: string }>(
    'UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE subject = $1 AND revoked_at IS NULL RETURNING id',
    [subject, iso(nowMs), reason],
  );
  return r.rows.map((row) => row.id);
}

export function createRevocation(store: Store, options: RevocationOptions = {}): Revocation {
  const now = options.now ?? systemClock;
  const ttlMs = Math.min(options.ttlMs ?? MAX_REVOCATION_TTL_MS, MAX_REVOCATION_TTL_MS);
  const maxEntries = options.maxEntries ?? 100_000;
  const cache = new Map<string, { revoked: boolean; until: number }>();
  const inflight = new Map<string, Promise<boolean>>();

  function sweep(t: number): void {
    if (cache.size < maxEntries) return;
    for (const [id, e] of cache) if (e.until <= t) cache.delete(id);
    if (cache.size >= maxEntries) cache.clear();
  }

  async function read(sessionId: string): Promise<boolean> {
    const startedAt = now();
    let rows: Array<{ revoked: boolean }>;
    try {
      rows = (
        await store.query<{ revoked: boolean }>(
          'SELECT revoked_at IS NOT NULL AS revoked FROM sessions WHERE id = $1',
          [sessionId],
        )
      ).rows;
    } catch (err) {
      throw new GatewayError(
        'ERR_STORE_UNAVAILABLE',
        'cannot check the session: the database is unavailable',
        {
          cause: err,
        },
      );
    }
    const revoked = rows.length === 0 || rows[0]?.revoked === true;
    sweep(startedAt);
    // The answer is as old as the query's start: count the TTL from there.
    // A revocation made here while the query ran wins over its (older) answer.
    if (cache.get(sessionId)?.revoked) return true;
    cache.set(sessionId, { revoked, until: startedAt + ttlMs });
    return revoked;
  }

  return {
    async isRevoked(sessionId) {
      const hit = cache.get(sessionId);
      if (hit && (hit.revoked || now() < hit.until)) return hit.revoked;
      let p = inflight.get(sessionId);
      if (!p) {
        p = read(sessionId).finally(() => inflight.delete(sessionId));
        inflight.set(sessionId, p);
      }
      return p;
    },
    async revokeSession(sessionId, reason) {
      const changed = await revokeSession(store, sessionId, reason, now());
      cache.set(sessionId, { revoked: true, until: Number.POSITIVE_INFINITY });
      return changed;
    },
    async revokeUserSessions(subject, reason) {
      const ids = await revokeUserSessions(store, subject, reason, now());
      for (const id of ids) cache.set(id, { revoked: true, until: Number.POSITIVE_INFINITY });
      return ids.length;
    },
    noteRevoked(sessionId) {
      cache.set(sessionId, { revoked: true, until: Number.POSITIVE_INFINITY });
    },
  };
}
