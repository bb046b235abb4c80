/**
 * The gateway's access-token signing keys (ES256), shared by every replica through the `signing_keys` table.
 *
 * Rules this module enforces:
 * - Private keys are stored only as JWE encrypted with the KEK (`kek.ts`), bound to their `kid`.
 * - Exactly one key is active. The first boot creates it under an advisory lock, so replicas booting together
 *   create one key, not several (a unique partial index backs this up).
 * - `rotate()` activates a new key and retires the old one, which still verifies until
 *   `expires_at = retired_at + accessTokenTtl + skew`: tokens issued before a rotation stay valid to their `exp`.
 *   The skew covers clock differences and replicas that still sign with the old key until their next reload
 *   (`refreshIntervalS`, which must stay below `skewS`).
 * - An unknown `kid` (another replica may have rotated) triggers a reload from the database, at most one per
 *   `unknownKidReloadMs` for the whole process (concurrent lookups share it), and a kid still unknown afterwards is
 *   remembered as unknown for `negativeCacheMs`: a flood of made-up kids costs the database one query a second.
 */
import { performance } from 'node:perf_hooks';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { GatewayError } from '../errors.ts';
import type { Queryable, Store } from '../store/store.ts';
import type { Kek } from './kek.ts';
import { type Clock, fromJson, iso, systemClock, toMsOrNull } from './util.ts';

/** Key of the advisory lock held while creating or rotating signing keys: the bytes of "ocgkeys". */
export const SIGNING_KEY_LOCK = '31353018249476467';

export const ACCESS_TOKEN_ALG = 'ES256';

export interface SigningKey {
  kid: string;
  alg: typeof ACCESS_TOKEN_ALG;
  privateKey: CryptoKey;
}

export interface KeyRing {
  /** The key to sign new access tokens with (reloaded from the database every `refreshIntervalS`). */
  activeSigningKey(): Promise<SigningKey>;
  /** The public key for `kid`, or null when the gateway has no such key or it expired. Never throws for a bad kid. */
  verificationKey(kid: string): Promise<CryptoKey | null>;
  /** Public JWKs of every key that still verifies (active first), e.g. for a JWKS document. */
  publicJwks(): Promise<JWK[]>;
  /** Activates a new key and retires the current one; returns the new kid. */
  rotate(): Promise<string>;
  /** Reloads keys from the database (creating the first key if there is none). Call at boot: a wrong KEK fails here. */
  refresh(): Promise<void>;
}

export interface KeyRingOptions {
  /** Lifetime of access tokens; a retired key verifies for this long (+ `skewS`) after its retirement. */
  accessTokenTtlS: number;
  now?: Clock;
  /** Extra lifetime of a retired key (clock skew, replicas not yet reloaded). Default 300. */
  skewS?: number;
  /** How often the active key is re-read from the database. Default 60. */
  refreshIntervalS?: number;
  /** Minimum time between reloads caused by unknown kids (real time). Default 1000. */
  unknownKidReloadMs?: number;
  /** How long a kid that is still unknown after a reload is refused without a reload (real time). Default 30000. */
  negativeCacheMs?: number;
  /** Called when a background reload fails (the next foreground use retries and throws). */
  onBackgroundError?: (err: unknown) => void;
}

interface KeyRow {
  kid: string;
  public_jwk: unknown;
  private_jwk_encrypted: string;
  retired_at: unknown;
  expires_at: unknown;
}

interface VerificationEntry {
  key: CryptoKey;
  jwk: JWK;
  expiresAt: number | null;
}

const NEGATIVE_CACHE_MAX = 10_000;

async function newKeyRow(kek: Kek): Promise<{ kid: string; publicJwk: JWK; privateEncrypted: string }> {
  const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const publicJwk: JWK = { ...pub, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: ACCESS_TOKEN_ALG };
  const privateEncrypted = await kek.encrypt(JSON.stringify(privateJwk), `signing_key:${kid}`);
  return { kid, publicJwk, privateEncrypted };
}

async function insertKey(tx: Queryable, kek: Kek, nowMs: number): Promise<string> {
  const k = await newKeyRow(kek);
  await tx.query(
    `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, activated_at)
     VALUES ($1, $2, $3::jsonb, $4, $5, $5)`,
    [k.kid, ACCESS_TOKEN_ALG, JSON.stringify(k.publicJwk), k.privateEncrypted, iso(nowMs)],
  );
  return k.kid;
}

export function createKeyRing(store: Store, kek: Kek, options: KeyRingOptions): KeyRing {
  const now = options.now ?? systemClock;
  const ttlMs = options.accessTokenTtlS * 1000;
  const skewMs = (options.skewS ?? 300) * 1000;
  const refreshMs = (options.refreshIntervalS ?? 60) * 1000;
  const unknownKidReloadMs = options.unknownKidReloadMs ?? 1000;
  const negativeCacheMs = options.negativeCacheMs ?? 30_000;

  let verification = new Map<string, VerificationEntry>();
  let active: SigningKey | null = null;
  let loadedAt = Number.NEGATIVE_INFINITY; // clock time of the last successful load
  let lastLoadStartedReal = Number.NEGATIVE_INFINITY; // performance.now() of the last load
  let loading: Promise<void> | null = null;
  let unknownKidReload: Promise<void> | null = null;
  const negative = new Map<string, number>(); // kid → performance.now() until which it is refused

  async function ensureActiveKey(): Promise<void> {
    await store.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const found = await tx.query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
      if (found.rows.length === 0) await insertKey(tx, kek, now());
    });
  }

  async function readKeys(): Promise<KeyRow[]> {
    return (
      await store.query<KeyRow>(
        `SELECT kid, public_jwk, private_jwk_encrypted, retired_at, expires_at FROM signing_keys
         WHERE expires_at IS NULL OR expires_at > $1 ORDER BY activated_at DESC`,
        [iso(now())],
      )
    ).rows;
  }

  async function load(): Promise<void> {
    lastLoadStartedReal = performance.now();
    const startedAt = now();
    let rows = await readKeys();
    if (!rows.some((r) => r.retired_at === null)) {
      await ensureActiveKey();
      rows = await readKeys();
    }
    const next = new Map<string, VerificationEntry>();
    let nextActive: SigningKey | null = null;
    for (const row of rows) {
      const previous = verification.get(row.kid);
      const jwk = fromJson<JWK>(row.public_jwk);
      const key = previous?.key ?? ((await importJWK(jwk, ACCESS_TOKEN_ALG)) as CryptoKey);
      next.set(row.kid, { key, jwk, expiresAt: toMsOrNull(row.expires_at) });
      if (row.retired_at === null) {
        if (active?.kid === row.kid) {
          nextActive = active;
        } else {
          const privateJwk = JSON.parse(
            await kek.decrypt(row.private_jwk_encrypted, `signing_key:${row.kid}`),
          ) as JWK;
          nextActive = {
            kid: row.kid,
            alg: ACCESS_TOKEN_ALG,
            privateKey: (await importJWK(privateJwk, ACCESS_TOKEN_ALG)) as CryptoKey,
          };
        }
      }
    }
    if (!nextActive)
      throw new GatewayError('ERR_INTERNAL', 'no active signing key after loading the key ring');
    verification = next;
    active = nextActive;
    loadedAt = startedAt;
  }

  function refresh(): Promise<void> {
    if (!loading) {
      loading = load().finally(() => {
        loading = null;
      });
    }
    return loading;
  }

  function backgroundRefreshIfStale(): void {
    if (loading || now() - loadedAt < refreshMs) return;
    refresh().catch((err: unknown) => options.onBackgroundError?.(err));
  }

  /** One reload for all unknown kids, no sooner than `unknownKidReloadMs` after the previous load. */
  function reloadForUnknownKid(): Promise<void> {
    if (loading) return loading;
    if (!unknownKidReload) {
      const wait = Math.max(0, lastLoadStartedReal + unknownKidReloadMs - performance.now());
      unknownKidReload = new Promise<void>((resolve) => setTimeout(resolve, wait))
        .then(() => refresh())
        .finally(() => {
          unknownKidReload = null;
        });
    }
    return unknownKidReload;
  }

  function lookup(kid: string): CryptoKey | null {
    const entry = verification.get(kid);
    if (!entry) return null;
    if (entry.expiresAt !== null && now() >= entry.expiresAt) return null;
    return entry.key;
  }

  return {
    async activeSigningKey() {
      if (!active || now() - loadedAt >= refreshMs) await refresh();
      return active as SigningKey;
    },

    async verificationKey(kid) {
      if (active === null) {
        try {
          await refresh();
        } catch {
          return null;
        }
      }
      backgroundRefreshIfStale();
      if (verification.has(kid)) return lookup(kid);
      const until = negative.get(kid);
      if (until !== undefined && performance.now() < until) return null;
      const askedAt = performance.now();
      try {
        // A load already in flight may have read the table before the key was committed: then wait for a fresh one.
        await reloadForUnknownKid();
        if (!verification.has(kid) && lastLoadStartedReal < askedAt) await reloadForUnknownKid();
      } catch (err) {
        options.onBackgroundError?.(err);
        return null;
      }
      if (verification.has(kid)) return lookup(kid);
      if (negative.size >= NEGATIVE_CACHE_MAX) negative.clear();
      negative.set(kid, performance.now() + negativeCacheMs);
      return null;
    },

    async publicJwks() {
      if (!active) await refresh();
      const t = now();
      return [...verification.values()]
        .filter((e) => e.expiresAt === null || t < e.expiresAt)
        .sort((a, b) => (a.expiresAt === null ? -1 : b.expiresAt === null ? 1 : b.expiresAt - a.expiresAt))
        .map((e) => e.jwk);
    },

    async rotate() {
      const t = now();
      const kid = await store.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
        await tx.query('UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL', [
          iso(t),
          iso(t + ttlMs + skewMs),
        ]);
        // Keys that stopped verifying more than a day ago are of no use to anyone.
        await tx.query('DELETE FROM signing_keys WHERE expires_at < $1', [iso(t - 86_400_000)]);
        return insertKey(tx, kek, t);
      });
      // A load in flight read the table before this rotation: let it finish, then load again.
      if (loading) await loading.catch(() => {});
      await refresh();
      return kid;
    },

    refresh,
  };
}
