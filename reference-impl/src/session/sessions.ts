/**
 * Sessions and their refresh tokens.
 *
 * Rules this module enforces:
 * - A refresh token is 256 random bits (base64url); the database keeps only its SHA-256.
 * - Every use rotates it: the presented token is marked used (and points at its successor) and a new one is
 *   returned, in one transaction that locks the token's row (`SELECT … FOR UPDATE`).
 * - An unknown or expired token, or one of a revoked or ended session, is `ERR_INVALID_GRANT`.
 * - A token that was already used is a replay: the whole session is revoked (reason `refresh_token_reuse`, which
 *   also kills the successor token and, through the revocation check, every access token of the session) and the
 *   answer is `ERR_INVALID_GRANT`. Two concurrent rotations of one token: the row lock orders them, one wins and
 *   the other is a replay.
 * - A refresh token lives `refreshTokenTtlS` (idle timeout) and never beyond its session's `expires_at`.
 * - The IdP's refresh token, if any, is kept encrypted with the KEK, bound to its session id.
 */
import { GatewayError } from '../errors.ts';
import type { Queryable, Store } from '../store/store.ts';
import type { Kek } from './kek.ts';
import type { Principal } from './principal.ts';
import { revokeSession } from './revocation.ts';
import { type Clock, fromJson, iso, randomToken, sha256Hex, systemClock, toMs, toMsOrNull } from './util.ts';

export const REFRESH_TOKEN_REUSE = 'refresh_token_reuse';

export interface SessionRecord {
  id: string;
  subject: string;
  email: string | null;
  name: string | null;
  groups: string[];
  idpIssuer: string;
  idpSubject: string;
  createdAt: number;
  refreshedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

export interface NewSession {
  subject: string;
  email: string | null;
  name: string | null;
  groups: string[];
  idpIssuer: string;
  idpSubject: string;
  idpRefreshToken?: string | null;
  /** Absolute lifetime of the session: after it the user signs in again. */
  ttlS: number;
}

export interface SessionManagerOptions {
  /** Lifetime of one refresh token (an idle session ends when it is not refreshed within this). */
  refreshTokenTtlS: number;
  now?: Clock;
  /** Told about every session this manager revokes (pass `revocation.noteRevoked` so this replica sees it at once). */
  onSessionRevoked?: (sessionId: string) => void;
}

export interface SessionManager {
  /** Creates a session and its first refresh token. */
  createSession(input: NewSession): Promise<{ sessionId: string; refreshToken: string }>;
  /**
   * Creates a session without a refresh token (the device flow's verification page: the token endpoint hands the
   * first one out later with `issueInitialRefreshToken`).
   */
  createPendingSession(input: NewSession): Promise<{ sessionId: string }>;
  /** The first refresh token of a session that has none yet; `ERR_INVALID_GRANT` otherwise or when it ended. */
  issueInitialRefreshToken(sessionId: string): Promise<string>;
  /**
   * The session of a refresh token that would rotate right now (known, unused, unexpired, session active), without
   * rotating it; null otherwise. Lets the token endpoint re-check the user at the IdP before spending the token, so
   * an IdP outage does not turn the client's retry into a reuse.
   */
  peekRefreshToken(refreshToken: string): Promise<SessionRecord | null>;
  /** Rotates a refresh token (see the module rules); returns the session and the new token. */
  rotateRefreshToken(refreshToken: string): Promise<{ session: SessionRecord; refreshToken: string }>;
  /** RFC 7009: revokes the session a refresh token belongs to (used or not); false when the token is unknown. */
  revokeByRefreshToken(refreshToken: string, reason?: string): Promise<boolean>;
  getSession(sessionId: string): Promise<SessionRecord | null>;
  /** The IdP refresh token of a session, decrypted; null when there is none. */
  getIdpRefreshToken(sessionId: string): Promise<string | null>;
  /**
   * Records what the IdP said on a re-check (and its rotated refresh token, if it gave one). False when the session
   * is revoked or unknown.
   */
  updateSessionIdentity(
    sessionId: string,
    identity: { email: string | null; name: string | null; groups: string[] },
    newIdpRefreshToken?: string | null,
  ): Promise<boolean>;
}

interface SessionRow {
  id: string;
  subject: string;
  email: string | null;
  name: string | null;
  groups: unknown;
  idp_issuer: string;
  idp_subject: string;
  created_at: unknown;
  refreshed_at: unknown;
  expires_at: unknown;
  revoked_at: unknown;
  revoked_reason: string | null;
}

const SESSION_COLUMNS =
  's.id, s.subject, s.email, s.name, s.groups, s.idp_issuer, s.idp_subject, s.created_at, s.refreshed_at, s.expires_at, s.revoked_at, s.revoked_reason';

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    subject: row.subject,
    email: row.email,
    name: row.name,
    groups: fromJson<string[]>(row.groups),
    idpIssuer: row.idp_issuer,
    idpSubject: row.idp_subject,
    createdAt: toMs(row.created_at),
    refreshedAt: toMs(row.refreshed_at),
    expiresAt: toMs(row.expires_at),
    revokedAt: toMsOrNull(row.revoked_at),
    revokedReason: row.revoked_reason,
  };
}

/** The principal an access token for this session carries. */
export function sessionPrincipal(session: SessionRecord): Principal & { sessionId: string } {
  return {
    subject: session.subject,
    email: session.email,
    name: session.name,
    groups: session.groups,
    sessionId: session.id,
  };
}

const SHAPE = /^[A-Za-z0-9_-]{43}$/;

function invalidGrant(message: string): GatewayError {
  return new GatewayError('ERR_INVALID_GRANT', message);
}

export function createSessionManager(store: Store, kek: Kek, options: SessionManagerOptions): SessionManager {
  const now = options.now ?? systemClock;
  const refreshTtlMs = options.refreshTokenTtlS * 1000;
  const idpContext = (sessionId: string) => `idp_refresh_token:${sessionId}`;

  async function insertRefreshToken(
    q: Queryable,
    sessionId: string,
    sessionExpiresAt: number,
    t: number,
  ): Promise<{ token: string; hash: string }> {
    const token = randomToken(32);
    const hash = sha256Hex(token);
    await q.query(
      'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [hash, sessionId, iso(t), iso(Math.min(t + refreshTtlMs, sessionExpiresAt))],
    );
    return { token, hash };
  }

  async function insertSession(q: Queryable, input: NewSession, t: number): Promise<string> {
    const id = `ses_${randomToken(16)}`;
    const encrypted =
      input.idpRefreshToken == null ? null : await kek.encrypt(input.idpRefreshToken, idpContext(id));
    await q.query(
      `INSERT INTO sessions (id, subject, email, name, groups, idp_issuer, idp_subject, idp_refresh_token_encrypted,
                             created_at, refreshed_at, expires_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $9, $10)`,
      [
        id,
        input.subject,
        input.email,
        input.name,
        JSON.stringify(input.groups),
        input.idpIssuer,
        input.idpSubject,
        encrypted,
        iso(t),
        iso(t + input.ttlS * 1000),
      ],
    );
    return id;
  }

  type Rotation =
    | { ok: true; session: SessionRecord; refreshToken: string }
    | { ok: false; message: string; revokedSessionId?: string };

  return {
    async createSession(input) {
      const t = now();
      return store.transaction(async (tx) => {
        const sessionId = await insertSession(tx, input, t);
        const { token } = await insertRefreshToken(tx, sessionId, t + input.ttlS * 1000, t);
        return { sessionId, refreshToken: token };
      });
    },

    async createPendingSession(input) {
      return { sessionId: await insertSession(store, input, now()) };
    },

    async issueInitialRefreshToken(sessionId) {
      const t = now();
      const token = await store.transaction(async (tx) => {
        const rows = (
          await tx.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = $1 FOR UPDATE`, [
            sessionId,
          ])
        ).rows;
        const row = rows[0];
        if (!row || row.revoked_at !== null || toMs(row.expires_at) <= t) return null;
        const existing = await tx.query('SELECT 1 FROM refresh_tokens WHERE session_id = $1 LIMIT 1', [
          sessionId,
        ]);
        if (existing.rows.length > 0) return null;
        return (await insertRefreshToken(tx, sessionId, toMs(row.expires_at), t)).token;
      });
      if (token === null) {
        throw invalidGrant('The session is unknown, has ended, or already has a refresh token.');
      }
      return token;
    },

    async rotateRefreshToken(refreshToken) {
      if (!SHAPE.test(refreshToken)) throw invalidGrant('The refresh token is invalid.');
      const hash = sha256Hex(refreshToken);
      const t = now();
      // Outcomes that revoke are returned, not thrown, so the revocation commits.
      const outcome = await store.transaction<Rotation>(async (tx) => {
        const rows = (
          await tx.query<SessionRow & { rt_expires_at: unknown; used_at: unknown }>(
            `SELECT ${SESSION_COLUMNS}, rt.expires_at AS rt_expires_at, rt.used_at
             FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
             WHERE rt.token_hash = $1
             FOR UPDATE`,
            [hash],
          )
        ).rows;
        const row = rows[0];
        if (!row) return { ok: false, message: 'The refresh token is invalid.' };
        if (row.revoked_at !== null) return { ok: false, message: 'The session was revoked; sign in again.' };
        if (row.used_at !== null) {
          await revokeSession(tx, row.id, REFRESH_TOKEN_REUSE, t);
          return {
            ok: false,
            revokedSessionId: row.id,
            message: 'The refresh token was already used; the session is revoked. Sign in again.',
          };
        }
        if (toMs(row.expires_at) <= t) return { ok: false, message: 'The session has ended; sign in again.' };
        if (toMs(row.rt_expires_at) <= t) return { ok: false, message: 'The refresh token has expired.' };
        const next = await insertRefreshToken(tx, row.id, toMs(row.expires_at), t);
        await tx.query('UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE token_hash = $1', [
          hash,
          iso(t),
          next.hash,
        ]);
        await tx.query('UPDATE sessions SET refreshed_at = $2 WHERE id = $1', [row.id, iso(t)]);
        return { ok: true, session: toRecord({ ...row, refreshed_at: iso(t) }), refreshToken: next.token };
      });
      if (!outcome.ok) {
        if (outcome.revokedSessionId) options.onSessionRevoked?.(outcome.revokedSessionId);
        throw invalidGrant(outcome.message);
      }
      return { session: outcome.session, refreshToken: outcome.refreshToken };
    },

    async peekRefreshToken(refreshToken) {
      if (!SHAPE.test(refreshToken)) return null;
      const t = now();
      const row = (
        await store.query<SessionRow & { rt_expires_at: unknown; used_at: unknown }>(
          `SELECT ${SESSION_COLUMNS}, rt.expires_at AS rt_expires_at, rt.used_at
           FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
           WHERE rt.token_hash = $1`,
          [sha256Hex(refreshToken)],
        )
      ).rows[0];
      if (!row || row.revoked_at !== null || row.used_at !== null) return null;
      if (toMs(row.expires_at) <= t || toMs(row.rt_expires_at) <= t) return null;
      return toRecord(row);
    },

    async revokeByRefreshToken(refreshToken, reason = 'logout') {
      if (!SHAPE.test(refreshToken)) return false;
      const r = await store.query<{ session_id: string }>(
        'SELECT session_id FROM refresh_tokens WHERE token_hash = $1',
        [sha256Hex(refreshToken)],
      );
      const sessionId = r.rows[0]?.session_id;
      if (!sessionId) return false;
      await revokeSession(store, sessionId, reason, now());
      options.onSessionRevoked?.(sessionId);
      return true;
    },

    async getSession(sessionId) {
      const r = await store.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = $1`, [
        sessionId,
      ]);
      return r.rows[0] ? toRecord(r.rows[0]) : null;
    },

    async getIdpRefreshToken(sessionId) {
      const r = await store.query<{ enc: string | null }>(
        'SELECT idp_refresh_token_encrypted AS enc FROM sessions WHERE id = $1',
        [sessionId],
      );
      const enc = r.rows[0]?.enc;
      return enc == null ? null : kek.decrypt(enc, idpContext(sessionId));
    },

    async updateSessionIdentity(sessionId, identity, newIdpRefreshToken) {
      const params: unknown[] = [sessionId, identity.email, identity.name, JSON.stringify(identity.groups)];
      let setIdp = '';
      if (newIdpRefreshToken != null) {
        params.push(await kek.encrypt(newIdpRefreshToken, idpContext(sessionId)));
        setIdp = ', idp_refresh_token_encrypted = $5';
      }
      const r = await store.query(
        `UPDATE sessions SET email = $2, name = $3, groups = $4::jsonb${setIdp}
         WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
        params,
      );
      return r.rows.length > 0;
    },
  };
}
