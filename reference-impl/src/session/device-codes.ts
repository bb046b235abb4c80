/**
 * RFC 8628 device authorization state.
 *
 * Rules this module enforces:
 * - Device codes are 256 random bits (base64url), stored only as SHA-256; single use: the poll that sees the
 *   approval consumes it, every later poll is `invalid_grant`.
 * - User codes are 8 characters from the base-20 alphabet `BCDFGHJKLMNPQRSTVWXZ` (no vowels, no look-alikes; about
 *   34.6 bits), drawn uniformly (rejection sampling), shown as `XXXX-XXXX`, unique (a collision draws again).
 *   Input is normalised (case, dashes, spaces) before lookup; malformed input never reaches the database.
 * - Polling sooner than `interval` after the previous poll (RFC 8628 §3.5) answers `slow_down` and adds 5 s to
 *   the stored interval, which every later poll is held to.
 * - Approval and denial happen only while the authorization is pending and unexpired, once; an approval may be
 *   bound to the browser that started the verification (`bindBrowser`).
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { type Clock, iso, randomToken, sha256Hex, systemClock, toMs, toMsOrNull } from './util.ts';

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
/** RFC 8628 §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests". */
export const SLOW_DOWN_STEP_S = 5;
/** Network jitter allowance: a poll up to this much early still counts as on time. */
const POLL_JITTER_MS = 500;
const MAX_USER_CODE_ATTEMPTS = 8;

export interface DeviceAuthorization {
  deviceCode: string;
  /** Display form `XXXX-XXXX`. */
  userCode: string;
  expiresIn: number;
  interval: number;
}

export type PollResult =
  | { status: 'pending' }
  | { status: 'slow_down'; interval: number }
  | { status: 'approved'; sessionId: string; subject: string; clientId: string; scope: string }
  | { status: 'denied' }
  | { status: 'expired' }
  | { status: 'invalid_grant' };

export interface DeviceAuthorizationInfo {
  /** Display form `XXXX-XXXX`. */
  userCode: string;
  clientId: string;
  scope: string;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  expired: boolean;
  expiresAt: number;
  /** Whether a browser is bound to this authorization already. */
  browserBound: boolean;
}

export interface DeviceAuthorizations {
  startDeviceAuthorization(input: {
    clientId: string;
    scope?: string;
    expiresInS?: number;
    intervalS?: number;
  }): Promise<DeviceAuthorization>;
  /** `now` defaults to the clock given to the factory. */
  pollDeviceAuthorization(deviceCode: string, now?: number): Promise<PollResult>;
  /** Looks up by user code in any common spelling; null when malformed or unknown. */
  findByUserCode(userCode: string): Promise<DeviceAuthorizationInfo | null>;
  /**
   * Binds a pending authorization to a browser (the hash of a secret in a short-lived cookie). True when bound now
   * or already bound to the same secret.
   */
  bindBrowser(userCode: string, browserSecret: string): Promise<boolean>;
  /**
   * Approves a pending, unexpired authorization for a session. When the authorization is bound to a browser, the
   * same browser secret must be given. True when this call approved it.
   */
  approve(userCode: string, sessionId: string, subject: string, browserSecret?: string): Promise<boolean>;
  /** Denies a pending, unexpired authorization. True when this call denied it. */
  deny(userCode: string, browserSecret?: string): Promise<boolean>;
}

/** Uniform random user code (normalised form, no dash). */
export function generateUserCode(): string {
  const limit = 256 - (256 % USER_CODE_ALPHABET.length); // 240: bytes at or above are rejected
  let out = '';
  while (out.length < USER_CODE_LENGTH) {
    for (const b of randomBytes(16)) {
      if (b >= limit) continue;
      out += USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length];
      if (out.length === USER_CODE_LENGTH) break;
    }
  }
  return out;
}

const NORMALISED = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);

/** `'bcdf-ghjk'`, `' BCDF GHJK '`, `'bcdfghjk'` → `'BCDFGHJK'`; null when it cannot be a user code. */
export function normaliseUserCode(input: string): string | null {
  if (input.length > 64) return null;
  const s = input.toUpperCase().replace(/[\s\-‐‑–—]/g, '');
  return NORMALISED.test(s) ? s : null;
}

export function formatUserCode(normalised: string): string {
  return `${normalised.slice(0, 4)}-${normalised.slice(4)}`;
}

interface DeviceRow {
  user_code: string;
  client_id: string;
  scope: string;
  expires_at: unknown;
  interval_s: number;
  last_polled_at: unknown;
  status: DeviceAuthorizationInfo['status'];
  session_id: string | null;
  approved_subject: string | null;
  browser_binding_hash: string | null;
}

const DEVICE_CODE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface DeviceAuthorizationOptions {
  now?: Clock;
  /** Source of user codes (normalised form); tests inject collisions. Default `generateUserCode`. */
  userCodes?: () => string;
}

export function createDeviceAuthorizations(
  store: Store,
  options: DeviceAuthorizationOptions = {},
): DeviceAuthorizations {
  const clock = options.now ?? systemClock;
  const nextUserCode = options.userCodes ?? generateUserCode;

  function bindingMatches(row: { browser_binding_hash: string | null }, secret: string | undefined): boolean {
    if (row.browser_binding_hash === null) return true;
    return secret !== undefined && sha256Hex(secret) === row.browser_binding_hash;
  }

  async function decide(
    userCode: string,
    browserSecret: string | undefined,
    set: string,
    params: unknown[],
  ): Promise<boolean> {
    const code = normaliseUserCode(userCode);
    if (!code) return false;
    const t = clock();
    return store.transaction(async (tx) => {
      const row = (
        await tx.query<DeviceRow>('SELECT * FROM device_authorizations WHERE user_code = $1 FOR UPDATE', [
          code,
        ])
      ).rows[0];
      if (!row) return false;
      if (row.status !== 'pending' || toMs(row.expires_at) <= t) return false;
      if (!bindingMatches(row, browserSecret)) return false;
      await tx.query(`UPDATE device_authorizations SET ${set} WHERE user_code = $1`, [code, ...params]);
      return true;
    });
  }

  return {
    async startDeviceAuthorization({ clientId, scope = '', expiresInS = 600, intervalS = 5 }) {
      const t = clock();
      for (let attempt = 0; attempt < MAX_USER_CODE_ATTEMPTS; attempt++) {
        const deviceCode = randomToken(32);
        const userCode = nextUserCode();
        const r = await store.query(
          `INSERT INTO device_authorizations
             (device_code_hash, user_code, client_id, scope, created_at, expires_at, interval_s)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING RETURNING user_code`,
          [sha256Hex(deviceCode), userCode, clientId, scope, iso(t), iso(t + expiresInS * 1000), intervalS],
        );
        if (r.rows.length > 0) {
          return {
            deviceCode,
            userCode: formatUserCode(userCode),
            expiresIn: expiresInS,
            interval: intervalS,
          };
        }
      }
      // 8 collisions in a row in a space of 2.56e10 codes means the table is full of stale rows.
      throw new GatewayError(
        'ERR_INTERNAL',
        'cannot allocate a unique user code; purge expired device authorizations',
      );
    },

    async pollDeviceAuthorization(deviceCode, now = clock()) {
      if (!DEVICE_CODE_SHAPE.test(deviceCode)) return { status: 'invalid_grant' };
      const hash = sha256Hex(deviceCode);
      return store.transaction<PollResult>(async (tx) => {
        const row = (
          await tx.query<DeviceRow>(
            'SELECT * FROM device_authorizations WHERE device_code_hash = $1 FOR UPDATE',
            [hash],
          )
        ).rows[0];
        if (!row || row.status === 'consumed') return { status: 'invalid_grant' };
        if (toMs(row.expires_at) <= now) return { status: 'expired' };
        const last = toMsOrNull(row.last_polled_at);
        if (last !== null && now - last < row.interval_s * 1000 - POLL_JITTER_MS) {
          const interval = row.interval_s + SLOW_DOWN_STEP_S;
          await tx.query(
            'UPDATE device_authorizations SET interval_s = $2, last_polled_at = $3 WHERE device_code_hash = $1',
            [hash, interval, iso(now)],
          );
          return { status: 'slow_down', interval };
        }
        if (row.status === 'approved' && row.session_id !== null && row.approved_subject !== null) {
          await tx.query(
            "UPDATE device_authorizations SET status = 'consumed', last_polled_at = $2 WHERE device_code_hash = $1",
            [hash, iso(now)],
          );
          return {
            status: 'approved',
            sessionId: row.session_id,
            subject: row.approved_subject,
            clientId: row.client_id,
            scope: row.scope,
          };
        }
        await tx.query('UPDATE device_authorizations SET last_polled_at = $2 WHERE device_code_hash = $1', [
          hash,
          iso(now),
        ]);
        return row.status === 'denied' ? { status: 'denied' } : { status: 'pending' };
      });
    },

    async findByUserCode(userCode) {
      const code = normaliseUserCode(userCode);
      if (!code) return null;
      const row = (
        await store.query<DeviceRow>('SELECT * FROM device_authorizations WHERE user_code = $1', [code])
      ).rows[0];
      if (!row) return null;
      const expiresAt = toMs(row.expires_at);
      return {
        userCode: formatUserCode(row.user_code),
        clientId: row.client_id,
        scope: row.scope,
        status: row.status,
        expired: expiresAt <= clock(),
        expiresAt,
        browserBound: row.browser_binding_hash !== null,
      };
    },

    async bindBrowser(userCode, browserSecret) {
      const code = normaliseUserCode(userCode);
      if (!code) return false;
      const t = clock();
      return store.transaction(async (tx) => {
        const row = (
          await tx.query<DeviceRow>('SELECT * FROM device_authorizations WHERE user_code = $1 FOR UPDATE', [
            code,
          ])
        ).rows[0];
        if (!row) return false;
        if (row.status !== 'pending' || toMs(row.expires_at) <= t) return false;
        if (row.browser_binding_hash !== null) return bindingMatches(row, browserSecret);
        await tx.query('UPDATE device_authorizations SET browser_binding_hash = $2 WHERE user_code = $1', [
          code,
          sha256Hex(browserSecret),
        ]);
        return true;
      });
    },

    approve(userCode, sessionId, subject, browserSecret) {
      return decide(userCode, browserSecret, "status = 'approved', session_id = $2, approved_subject = $3", [
        sessionId,
        subject,
      ]);
    },

    deny(userCode, browserSecret) {
      return decide(userCode, browserSecret, "status = 'denied'", []);
    },
  };
}
