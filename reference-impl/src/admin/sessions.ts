/**
 * Sessions as the admin API shows them (`listSessions`, `revokeSession`). Read-only views of the `sessions` table
 * (`migrations/0002_sessions.sql`); revoking goes through `session/revocation.ts` so the revoking replica's cache
 * sees it at once and every other replica within its 2 s cache lifetime (ADMIN-4: within 5 s).
 */
import { GatewayError } from '../errors.ts';
import { iso, toMs, toMsOrNull } from '../session/util.ts';
import type { Queryable } from '../store/store.ts';
import { type Page, type PageRequest, toPage } from './paging.ts';

/** The protocol's `Session` object. */
export interface SessionView {
  type: 'session';
  id: string;
  /** The IdP subject. */
  user_id: string;
  email: string | null;
  created_at: string;
  /** When the session last got tokens (sign-in or refresh); access-token use is not recorded per request. */
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_reason: string | null;
}

interface SessionRow {
  id: string;
  subject: string;
  email: string | null;
  created_at: unknown;
  refreshed_at: unknown;
  expires_at: unknown;
  revoked_at: unknown;
  revoked_reason: string | null;
}

const COLUMNS = 'id, subject, email, created_at, refreshed_at, expires_at, revoked_at, revoked_reason';

function isoOrNull(value: unknown): string | null {
  const ms = toMsOrNull(value);
  return ms === null ? null : iso(ms);
}

function toView(row: SessionRow): SessionView {
  return {
    type: 'session',
    id: row.id,
    user_id: row.subject,
    email: row.email,
    created_at: iso(toMs(row.created_at)),
    last_used_at: isoOrNull(row.refreshed_at),
    expires_at: isoOrNull(row.expires_at),
    revoked_at: isoOrNull(row.revoked_at),
    revoked_reason: row.revoked_reason,
  };
}

export async function getSessionView(q: Queryable, sessionId: string): Promise<SessionView | null> {
  const r = await q.query<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE id = $1`, [sessionId]);
  const row = r.rows[0];
  return row ? toView(row) : null;
}

/** Sessions newest first, optionally of one subject; revoked and expired ones included. */
export async function listSessionViews(
  q: Queryable,
  userId: string | null,
  { limit, afterId }: PageRequest,
): Promise<Page<SessionView>> {
  const params: unknown[] = [limit + 1];
  const where: string[] = [];
  if (userId !== null) {
    params.push(userId);
    where.push(`subject = $${params.length}`);
  }
  if (afterId !== null) {
    const cursor = await q.query<{ created_at: unknown }>('SELECT created_at FROM sessions WHERE id = $1', [
      afterId,
    ]);
    const row = cursor.rows[0];
    if (!row) throw new GatewayError('ERR_INVALID_REQUEST', 'after_id is not a session id');
    params.push(iso(toMs(row.created_at)), afterId);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const r = await q.query<SessionRow>(
    `SELECT ${COLUMNS} FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, id DESC LIMIT $1`,
    params,
  );
  return toPage(r.rows.map(toView), limit);
}
