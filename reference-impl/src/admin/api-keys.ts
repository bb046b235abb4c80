/**
 * Admin API keys (ADMIN-2): `ocg_admin_` + 256 random bits (base64url), scoped `read` or `write`, shown once at
 * creation, revocable, with `last_used_at`. The database keeps only the SHA-256 of the whole key, so a leaked
 * database (or backup) grants nothing, and a lookup by that digest reveals nothing about the secret through timing:
 * the index is searched with a hash the attacker cannot steer toward a stored one. A revoked key stops working on
 * the next request on every replica: nothing about keys is cached.
 *
 * Table: `migrations/0003_admin.sql`.
 */
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.ts';
import { type Clock, iso, randomToken, sha256Hex, systemClock, toMs, toMsOrNull } from '../session/util.ts';
import type { Queryable } from '../store/store.ts';
import { type Page, type PageRequest, toPage } from './paging.ts';

/** Every admin API key starts with this, so the gateway (and secret scanners) can tell one at a glance. */
export const ADMIN_KEY_PREFIX = 'ocg_admin_';
/** The exact shape of a key the gateway issues: the prefix and 43 base64url characters (32 bytes). */
const KEY_SHAPE = /^ocg_admin_[A-Za-z0-9_-]{43}$/;
/** `last_used_at` is written at most this often per key, so a busy admin script does not write on every call. */
export const LAST_USED_RESOLUTION_MS = 60_000;
export const MAX_KEY_NAME_LENGTH = 100;

export type AdminScope = 'read' | 'write';

export interface AdminApiKeyRecord {
  id: string;
  name: string;
  scope: AdminScope;
  createdAt: number;
  /** `user:<subject>`, `api_key:<id>` or `cli`. */
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** The protocol's `AdminApiKey` object (never the secret). */
export interface AdminApiKeyView {
  type: 'admin_api_key';
  id: string;
  name: string;
  scope: AdminScope;
  created_at: string;
  created_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface NewAdminApiKey {
  name: string;
  scope: AdminScope;
  createdBy: string | null;
}

export interface AdminApiKeys {
  /** Creates a key; the returned `key` is the only copy of the secret there will ever be. */
  create(input: NewAdminApiKey): Promise<{ record: AdminApiKeyRecord; key: string }>;
  /** Keys newest first (revoked ones included, so an auditor sees them). */
  list(page: PageRequest): Promise<Page<AdminApiKeyRecord>>;
  get(id: string): Promise<AdminApiKeyRecord | null>;
  /** Revokes a key (idempotent: a revoked key keeps its first `revoked_at`); null when unknown. */
  revoke(id: string): Promise<AdminApiKeyRecord | null>;
  /** The active key a presented secret belongs to, or null (unknown, malformed or revoked). Records the use. */
  authenticate(presented: string): Promise<AdminApiKeyRecord | null>;
}

export interface AdminApiKeysOptions {
  now?: Clock;
}

interface KeyRow {
  id: string;
  name: string;
  scope: AdminScope;
  secret_hash?: string;
  created_at: unknown;
  created_by: string | null;
  last_used_at: unknown;
  revoked_at: unknown;
}

const COLUMNS = 'id, name, scope, created_at, created_by, last_used_at, revoked_at';

function toRecord(row: KeyRow): AdminApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    createdAt: toMs(row.created_at),
    createdBy: row.created_by,
    lastUsedAt: toMsOrNull(row.last_used_at),
    revokedAt: toMsOrNull(row.revoked_at),
  };
}

export function adminApiKeyView(record: AdminApiKeyRecord): AdminApiKeyView {
  return {
    type: 'admin_api_key',
    id: record.id,
    name: record.name,
    scope: record.scope,
    created_at: iso(record.createdAt),
    created_by: record.createdBy,
    last_used_at: record.lastUsedAt === null ? null : iso(record.lastUsedAt),
    revoked_at: record.revokedAt === null ? null : iso(record.revokedAt),
  };
}

/** Whether a credential is shaped like an admin API key (the prefix): such a credential is never a bearer token. */
export function looksLikeAdminKey(credential: string): boolean {
  return credential.startsWith(ADMIN_KEY_PREFIX);
}

/**
 * Checks a key's name and scope as given to `createAdminApiKey` or the CLI.
 *
 * @throws GatewayError `ERR_INVALID_REQUEST` naming the field.
 */
export function checkNewKey(name: unknown, scope: unknown): { name: string; scope: AdminScope } {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_KEY_NAME_LENGTH) {
    throw new GatewayError(
      'ERR_INVALID_REQUEST',
      `name must be a non-empty string of at most ${MAX_KEY_NAME_LENGTH} characters`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new GatewayError('ERR_INVALID_REQUEST', 'name must not contain control characters');
  }
  if (scope !== 'read' && scope !== 'write') {
    throw new GatewayError('ERR_INVALID_REQUEST', "scope must be 'read' or 'write'");
  }
  return { name, scope };
}

export function createAdminApiKeys(store: Queryable, options: AdminApiKeysOptions = {}): AdminApiKeys {
  const now = options.now ?? systemClock;

  async function get(id: string): Promise<AdminApiKeyRecord | null> {
    const r = await store.query<KeyRow>(`SELECT ${COLUMNS} FROM admin_api_keys WHERE id = $1`, [id]);
    const row = r.rows[0];
    return row ? toRecord(row) : null;
  }

  return {
    async create(input) {
      const { name, scope } = checkNewKey(input.name, input.scope);
      const key = `${ADMIN_KEY_PREFIX}${randomToken(32)}`;
      const id = `akey_${randomToken(12)}`;
      const t = now();
      const r = await store.query<KeyRow>(
        `INSERT INTO admin_api_keys (id, name, scope, secret_hash, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [id, name, scope, sha256Hex(key), iso(t), input.createdBy],
      );
      return { record: toRecord(r.rows[0] as KeyRow), key };
    },

    async list({ limit, afterId }) {
      const params: unknown[] = [limit + 1];
      let where = '';
      if (afterId !== null) {
        const cursor = await store.query<{ created_at: unknown }>(
          'SELECT created_at FROM admin_api_keys WHERE id = $1',
          [afterId],
        );
        const row = cursor.rows[0];
        if (!row) throw new GatewayError('ERR_INVALID_REQUEST', 'after_id is not an admin API key id');
        params.push(iso(toMs(row.created_at)), afterId);
        where = 'WHERE (created_at, id) < ($2::timestamptz, $3)';
      }
      const r = await store.query<KeyRow>(
        `SELECT ${COLUMNS} FROM admin_api_keys ${where} ORDER BY created_at DESC, id DESC LIMIT $1`,
        params,
      );
      return toPage(r.rows.map(toRecord), limit);
    },

    get,

    async revoke(id) {
      await store.query('UPDATE admin_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [
        id,
        iso(now()),
      ]);
      return get(id);
    },

    async authenticate(presented) {
      if (!KEY_SHAPE.test(presented)) return null;
      const digest = sha256Hex(presented);
      const r = await store.query<KeyRow>(
        `SELECT ${COLUMNS}, secret_hash FROM admin_api_keys WHERE secret_hash = $1`,
        [digest],
      );
      const row = r.rows[0];
      if (!row || typeof row.secret_hash !== 'string') return null;
      // The index already matched; compare again in constant time so no code path compares secrets with ===.
      const a = Buffer.from(row.secret_hash, 'hex');
      const b = Buffer.from(digest, 'hex');
      if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
      const record = toRecord(row);
      if (record.revokedAt !== null) return null;
      const t = now();
      if (record.lastUsedAt === null || t - record.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
        await store.query(
          'UPDATE admin_api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)',
          [record.id, iso(t)],
        );
        record.lastUsedAt = t;
      }
      return record;
    },
  };
}
