/**
 * Signing keys, access tokens and revocation, on PGlite (always) and PostgreSQL (when OCG_TEST_DATABASE_URL is
 * set): every forged token refused, rotation without breaking live tokens, two replicas on one database, the
 * unknown-kid reload throttle, revocation seen by another replica within 5 s.
 */
import { randomBytes } from 'node:crypto';
import {
  type CryptoKey,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { silentLogger } from '../src/log/logger.ts';
import { issueAccessToken, verifyAccessToken } from '../src/session/access-token.ts';
import { createKek, type Kek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import type { Principal } from '../src/session/principal.ts';
import { createRevocation, MAX_REVOCATION_TTL_MS, type Revocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager } from '../src/session/sessions.ts';
import { migrate } from '../src/store/migrate.ts';
import type { Queryable, Store } from '../src/store/store.ts';
import { createStore } from '../src/store/store.ts';
import { BACKENDS, createTestDatabase } from './helpers.ts';

const ISSUER = 'https://gateway.example.test';
const AUDIENCE = 'https://gateway.example.test';
const TTL_S = 3600;
const SKEW_S = 300;
const T0 = Date.parse('2031-03-04T05:06:07Z');

const newKek = (): Kek => createKek(randomBytes(32).toString('base64url'));

async function openDatabase(backend: 'pglite' | 'postgres') {
  let url = 'pglite:memory:';
  let drop = async () => {};
  if (backend === 'postgres') ({ url, drop } = await createTestDatabase());
  const store = await createStore(url, { logger: silentLogger });
  await migrate(store, { logger: silentLogger });
  // A second connection pool plays the second replica (PGlite in memory has one connection: share it).
  const second = backend === 'postgres' ? await createStore(url, { logger: silentLogger }) : store;
  return {
    store,
    second,
    async close() {
      if (second !== store) await second.close();
      await store.close();
      await drop();
    },
  };
}

/** A store that counts the statements it runs. */
function counting(store: Store): Store & { count: number } {
  const wrapped = {
    count: 0,
    query<T>(sql: string, params?: unknown[]) {
      wrapped.count++;
      return store.query<T>(sql, params);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      return store.transaction((tx) =>
        fn({
          query: <U>(sql: string, params?: unknown[]) => {
            wrapped.count++;
            return tx.query<U>(sql, params);
          },
        }),
      );
    },
    close: () => store.close(),
  };
  return wrapped as Store & { count: number };
}

function expectRefused(err: unknown, token: string, message: RegExp): void {
  expect(err).toBeInstanceOf(GatewayError);
  const e = err as GatewayError;
  expect(e.code).toBe('ERR_UNAUTHENTICATED');
  expect(e.status).toBe(401);
  expect(e.type).toBe('authentication_error');
  expect(e.message).toMatch(message);
  for (const part of token.split('.')) if (part.length > 8) expect(e.message).not.toContain(part);
  if (token) expect(e.message).not.toContain(token);
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `access tokens on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      let db: Awaited<ReturnType<typeof openDatabase>>;
      let t = T0;
      const now = () => t;
      let kek: Kek;
      let ring: KeyRing;
      let revocation: Revocation;
      let sessions: SessionManager;
      let principal: Principal & { sessionId: string };
      const issue = { issuer: ISSUER, audience: AUDIENCE, ttlS: TTL_S, now };
      const verify = { issuer: ISSUER, audience: AUDIENCE, now };

      const newSession = async (subject = 'user-1') => {
        const { sessionId } = await sessions.createSession({
          subject,
          email: `${subject}@example.com`,
          name: 'Ada Lovelace',
          groups: ['eng', 'ml'],
          idpIssuer: 'https://idp.example.test',
          idpSubject: subject,
          ttlS: 86_400,
        });
        return sessionId;
      };

      beforeAll(async () => {
        db = await openDatabase(backend.name);
        kek = newKek();
        ring = createKeyRing(db.store, kek, { accessTokenTtlS: TTL_S, skewS: SKEW_S, now });
        await ring.refresh();
        revocation = createRevocation(db.store, { now });
        sessions = createSessionManager(db.store, kek, { refreshTokenTtlS: 30 * 86_400, now });
        const sessionId = await newSession();
        principal = {
          subject: 'user-1',
          email: 'user-1@example.com',
          name: 'Ada Lovelace',
          groups: ['eng', 'ml'],
          sessionId,
        };
      });
      afterAll(async () => {
        await db?.close();
      });

      it('issues an ES256 at+jwt with the principal and verifies it', async () => {
        const { token, expiresIn } = await issueAccessToken(ring, issue, principal);
        expect(expiresIn).toBe(TTL_S);
        const header = decodeProtectedHeader(token);
        expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: (await ring.activeSigningKey()).kid });
        const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
        expect(payload).toEqual({
          iss: ISSUER,
          aud: AUDIENCE,
          sub: 'user-1',
          email: 'user-1@example.com',
          name: 'Ada Lovelace',
          groups: ['eng', 'ml'],
          sid: principal.sessionId,
          iat: Math.floor(T0 / 1000),
          nbf: Math.floor(T0 / 1000),
          exp: Math.floor(T0 / 1000) + TTL_S,
          jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        });
        expect(await verifyAccessToken(ring, revocation, token, verify)).toEqual(principal);
      });

      it('maps absent email and name to null', async () => {
        const p = { ...principal, email: null, name: null, groups: [] };
        const { token } = await issueAccessToken(ring, issue, p);
        expect(await verifyAccessToken(ring, revocation, token, verify)).toEqual(p);
      });

      it('accepts a token expired by less than the clock tolerance', async () => {
        const { token } = await issueAccessToken(ring, issue, principal);
        const later = { ...verify, now: () => T0 + (TTL_S + 29) * 1000 };
        await expect(verifyAccessToken(ring, revocation, token, later)).resolves.toEqual(principal);
      });

      describe('refuses every forged or unacceptable token with 401 authentication_error', () => {
        const iat = Math.floor(T0 / 1000);
        const claims = (): JWTPayload => ({
          iss: ISSUER,
          aud: AUDIENCE,
          sub: 'user-1',
          sid: principal.sessionId,
          groups: ['eng'],
          iat,
          nbf: iat,
          exp: iat + TTL_S,
          jti: 'j1',
        });
        const sign = async (
          key: CryptoKey | Uint8Array,
          alg: string,
          over: { header?: Record<string, unknown>; claims?: JWTPayload; drop?: string[] } = {},
        ) => {
          const c: JWTPayload = { ...claims(), ...over.claims };
          for (const k of over.drop ?? []) delete c[k];
          return new SignJWT(c)
            .setProtectedHeader({
              alg,
              typ: 'at+jwt',
              kid: (await ring.activeSigningKey()).kid,
              ...over.header,
            } as { alg: string })
            .sign(key);
        };
        const real = async (over: Parameters<typeof sign>[2] = {}) =>
          sign((await ring.activeSigningKey()).privateKey, 'ES256', over);

        const cases: Array<[name: string, forge: () => Promise<string>, message: RegExp, at?: number]> = [
          ['empty string', async () => '', /malformed/],
          ['not a JWT', async () => 'not-a-jwt', /malformed/],
          ['too long', async () => `${'a'.repeat(20_000)}.b.c`, /malformed/],
          [
            'alg none (UnsecuredJWT)',
            async () => new UnsecuredJWT(claims()).encode(),
            /algorithm is not accepted \(only ES256\)/,
          ],
          [
            'alg none with the real kid and typ',
            async () => {
              const h = Buffer.from(
                JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: (await ring.activeSigningKey()).kid }),
              ).toString('base64url');
              return `${h}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`;
            },
            /algorithm is not accepted/,
          ],
          [
            'HS256 keyed with the public key (PEM)',
            async () => {
              const pub = (await ring.publicJwks())[0];
              const { importJWK } = await import('jose');
              const spki = await exportSPKI(
                (await importJWK(pub as object, 'ES256', { extractable: true })) as never,
              );
              return sign(new TextEncoder().encode(spki), 'HS256');
            },
            /algorithm is not accepted/,
          ],
          [
            'HS256 keyed with the public JWK JSON',
            async () => sign(new TextEncoder().encode(JSON.stringify((await ring.publicJwks())[0])), 'HS256'),
            /algorithm is not accepted/,
          ],
          [
            'ES384 from another key',
            async () => sign((await generateKeyPair('ES384')).privateKey, 'ES384'),
            /algorithm is not accepted/,
          ],
          [
            'RS256 from another key',
            async () => sign((await generateKeyPair('RS256')).privateKey, 'RS256'),
            /algorithm is not accepted/,
          ],
          [
            'another ES256 key claiming the real kid',
            async () => sign((await generateKeyPair('ES256')).privateKey, 'ES256'),
            /signature is invalid/,
          ],
          [
            'another ES256 key with its own kid',
            async () =>
              sign((await generateKeyPair('ES256')).privateKey, 'ES256', { header: { kid: 'attacker-key' } }),
            /key this gateway does not know/,
          ],
          [
            'another ES256 key with an embedded jwk header',
            async () => {
              const k = await generateKeyPair('ES256', { extractable: true });
              return sign(k.privateKey, 'ES256', {
                header: { kid: undefined, jwk: await exportJWK(k.publicKey) },
              });
            },
            /key this gateway does not know/,
          ],
          ['no kid', async () => real({ header: { kid: undefined } }), /key this gateway does not know/],
          ['wrong iss', async () => real({ claims: { iss: 'https://evil.example' } }), /"iss"/],
          ['wrong aud', async () => real({ claims: { aud: 'https://other.example' } }), /"aud"/],
          ['typ JWT', async () => real({ header: { typ: 'JWT' } }), /"typ"/],
          ['no typ', async () => real({ header: { typ: undefined } }), /"typ"/],
          ['expired beyond the skew', async () => real({ claims: { exp: iat - 31 } }), /expired/],
          ['not yet valid', async () => real({ claims: { nbf: iat + 120 } }), /not valid yet/],
          ['missing sid', async () => real({ drop: ['sid'] }), /no "sid" claim/],
          ['missing sub', async () => real({ drop: ['sub'] }), /no "sub" claim/],
          ['missing exp', async () => real({ drop: ['exp'] }), /no "exp" claim/],
          ['empty sid', async () => real({ claims: { sid: '' } }), /"sid" claim is invalid/],
          ['groups not a list', async () => real({ claims: { groups: 'admins' } }), /"groups"/],
          [
            'tampered payload (sub changed, signature kept)',
            async () => {
              const [h, p, s] = (await real()).split('.');
              const body = JSON.parse(Buffer.from(p as string, 'base64url').toString());
              body.sub = 'admin';
              return `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`;
            },
            /signature is invalid/,
          ],
          [
            'signature stripped',
            async () => {
              const [h, p] = (await real()).split('.');
              return `${h}.${p}.`;
            },
            /signature is invalid|malformed/,
          ],
          [
            'unknown session',
            async () => real({ claims: { sid: 'ses_does_not_exist' } }),
            /revoked or has ended/,
          ],
          [
            'revoked session',
            async () => {
              const sid = await newSession('user-revoked');
              await revocation.revokeSession(sid, 'admin');
              return real({ claims: { sid, sub: 'user-revoked' } });
            },
            /revoked or has ended/,
          ],
          [
            'JWE-shaped token',
            async () => (await newKek().encrypt('{}', 'x')) as string,
            /malformed|algorithm/,
          ],
        ];
        it.each(cases)('%s', async (_name, forge, message) => {
          const token = await forge();
          let caught: unknown;
          try {
            await verifyAccessToken(ring, revocation, token, verify);
          } catch (err) {
            caught = err;
          }
          expectRefused(caught, token, message);
          expect((caught as GatewayError).headers['www-authenticate']).toMatch(/error="invalid_token"/);
        });

        it('the same builder with nothing forged is accepted (the table can fail)', async () => {
          await expect(verifyAccessToken(ring, revocation, await real(), verify)).resolves.toMatchObject({
            subject: 'user-1',
            sessionId: principal.sessionId,
          });
        });
      });

      it('rotation: tokens issued before still verify, new tokens use the new kid, the old key expires', async () => {
        const before = await issueAccessToken(ring, issue, principal);
        const oldKey = await ring.activeSigningKey();
        const newKid = await ring.rotate();
        expect(newKid).not.toBe(oldKey.kid);
        expect(await verifyAccessToken(ring, revocation, before.token, verify)).toEqual(principal);
        const after = await issueAccessToken(ring, issue, principal);
        expect(decodeProtectedHeader(after.token).kid).toBe(newKid);
        expect((await ring.publicJwks()).map((k) => k.kid)).toEqual([newKid, oldKey.kid]);

        // A token signed by the old key that claims a long life stops verifying at retired_at + ttl + skew.
        const longLived = await new SignJWT({ sid: principal.sessionId, groups: [] })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: oldKey.kid })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject('user-1')
          .setIssuedAt(Math.floor(T0 / 1000))
          .setExpirationTime(Math.floor(T0 / 1000) + 10 * TTL_S)
          .setJti('x')
          .sign(oldKey.privateKey);
        const at = (s: number) => ({ ...verify, now: () => T0 + s * 1000 });
        await expect(
          verifyAccessToken(ring, revocation, longLived, at(TTL_S + SKEW_S - 1)),
        ).resolves.toBeTruthy();
        const saved = t;
        t = T0 + (TTL_S + SKEW_S) * 1000;
        try {
          await expect(verifyAccessToken(ring, revocation, longLived, verify)).rejects.toMatchObject({
            code: 'ERR_UNAUTHENTICATED',
            message: expect.stringMatching(/key this gateway does not know/),
          });
          expect((await ring.publicJwks()).map((k) => k.kid)).toEqual([newKid]);
        } finally {
          t = saved;
        }
      });

      it('two replicas on one database verify each other’s tokens across rotations', async () => {
        const ringB = createKeyRing(db.second, kek, { accessTokenTtlS: TTL_S, now });
        const revB = createRevocation(db.second, { now });
        const fromA1 = await issueAccessToken(ring, issue, principal);
        expect(await verifyAccessToken(ringB, revB, fromA1.token, verify)).toEqual(principal);
        expect((await ringB.activeSigningKey()).kid).toBe((await ring.activeSigningKey()).kid);

        const kidA = await ring.rotate();
        const fromA2 = await issueAccessToken(ring, issue, principal);
        // B has not reloaded: the unknown kid makes it read the database once.
        expect(await verifyAccessToken(ringB, revB, fromA2.token, verify)).toEqual(principal);
        expect(await verifyAccessToken(ringB, revB, fromA1.token, verify)).toEqual(principal);

        // A third replica that loaded before B's rotation and sees no token with B's new kid.
        const ringC = createKeyRing(db.store, kek, { accessTokenTtlS: TTL_S, now });
        expect((await ringC.activeSigningKey()).kid).toBe(kidA);
        const kidB = await ringB.rotate();
        expect(kidB).not.toBe(kidA);
        const fromB = await issueAccessToken(ringB, issue, principal);
        expect(decodeProtectedHeader(fromB.token).kid).toBe(kidB);
        for (const token of [fromA1.token, fromA2.token, fromB.token]) {
          expect(await verifyAccessToken(ring, revocation, token, verify)).toEqual(principal);
          expect(await verifyAccessToken(ringB, revB, token, verify)).toEqual(principal);
        }
        // A reloaded for B's unknown kid, so it signs with B's key now.
        expect((await ring.activeSigningKey()).kid).toBe(kidB);
        // C still signs with its (now retired) key until its refresh interval passes, then switches.
        expect((await ringC.activeSigningKey()).kid).toBe(kidA);
        const saved = t;
        t += 61_000;
        try {
          expect((await ringC.activeSigningKey()).kid).toBe(kidB);
        } finally {
          t = saved;
        }
        const rows = await db.store.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM signing_keys WHERE retired_at IS NULL',
        );
        expect(rows.rows[0]?.n).toBe('1');
      });

      it('a flood of unknown kids costs one reload, then none (negative cache)', async () => {
        const counted = counting(db.store);
        const r = createKeyRing(counted, kek, { accessTokenTtlS: TTL_S, now, unknownKidReloadMs: 200 });
        await r.refresh();
        counted.count = 0;
        const kids = Array.from({ length: 200 }, (_, i) => `bogus-${i}`);
        const found = await Promise.all(kids.map((k) => r.verificationKey(k)));
        expect(found.every((k) => k === null)).toBe(true);
        expect(counted.count).toBeLessThanOrEqual(2);
        const afterFirst = counted.count;
        expect(afterFirst).toBeGreaterThanOrEqual(1);
        await Promise.all(kids.map((k) => r.verificationKey(k)));
        expect(counted.count).toBe(afterFirst);
        // Known kids never touch the database.
        await r.verificationKey((await r.activeSigningKey()).kid);
        expect(counted.count).toBe(afterFirst);
      });

      it('a keyring with another KEK fails clearly with ERR_KEK_MISMATCH', async () => {
        const wrong = createKeyRing(db.second, newKek(), { accessTokenTtlS: TTL_S, now });
        await expect(wrong.refresh()).rejects.toMatchObject({ code: 'ERR_KEK_MISMATCH' });
        await expect(wrong.activeSigningKey()).rejects.toBeInstanceOf(GatewayError);
      });

      it('stores private keys encrypted, never in clear', async () => {
        const rows = await db.store.query<{
          public_jwk: Record<string, unknown>;
          private_jwk_encrypted: string;
        }>('SELECT public_jwk, private_jwk_encrypted FROM signing_keys');
        expect(rows.rows.length).toBeGreaterThan(0);
        for (const row of rows.rows) {
          expect(row.public_jwk).not.toHaveProperty('d');
          expect(row.private_jwk_encrypted.split('.')).toHaveLength(5);
          expect(row.private_jwk_encrypted).not.toContain('"d"');
        }
      });

      it('revocation: another replica sees it once its cache entry (≤ 2 s) expires', async () => {
        const sid = await newSession('user-cache');
        const a = createRevocation(db.store, { now });
        const b = createRevocation(db.second, { now });
        expect(await a.isRevoked(sid)).toBe(false);
        expect(await b.revokeSession(sid, 'admin')).toBe(true);
        expect(await b.isRevoked(sid)).toBe(true);
        expect(await b.revokeSession(sid, 'again')).toBe(false);
        const saved = t;
        try {
          t += MAX_REVOCATION_TTL_MS - 1;
          expect(await a.isRevoked(sid)).toBe(false); // still cached
          t += 1;
          expect(await a.isRevoked(sid)).toBe(true);
        } finally {
          t = saved;
        }
        const row = await db.store.query<{ revoked_reason: string }>(
          'SELECT revoked_reason FROM sessions WHERE id = $1',
          [sid],
        );
        expect(row.rows[0]?.revoked_reason).toBe('admin');
      });

      it('revocation: a TTL above 2 s is capped', async () => {
        const sid = await newSession('user-cap');
        const a = createRevocation(db.store, { now, ttlMs: 60_000 });
        expect(await a.isRevoked(sid)).toBe(false);
        await createRevocation(db.second, { now }).revokeSession(sid, 'admin');
        const saved = t;
        t += MAX_REVOCATION_TTL_MS;
        try {
          expect(await a.isRevoked(sid)).toBe(true);
        } finally {
          t = saved;
        }
      });

      it('revocation in real time: a token refused on another replica within 5 s', async () => {
        const sid = await newSession('user-realtime');
        const p = { ...principal, subject: 'user-realtime', sessionId: sid };
        const ringB = createKeyRing(db.second, kek, { accessTokenTtlS: TTL_S, now });
        const realA = createRevocation(db.store);
        const realB = createRevocation(db.second);
        const { token } = await issueAccessToken(ring, issue, p);
        expect(await verifyAccessToken(ring, realA, token, verify)).toEqual(p);
        const started = Date.now();
        await realB.revokeSession(sid, 'admin');
        await expect(verifyAccessToken(ringB, realB, token, verify)).rejects.toMatchObject({
          code: 'ERR_UNAUTHENTICATED',
        });
        let refusedAfter = -1;
        while (Date.now() - started < 6000) {
          try {
            await verifyAccessToken(ring, realA, token, verify);
          } catch (err) {
            expect(err).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
            refusedAfter = Date.now() - started;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(refusedAfter).toBeGreaterThanOrEqual(0);
        expect(refusedAfter).toBeLessThan(5000);
      });

      it('revokeUserSessions revokes every session of that subject and no other', async () => {
        const s1 = await newSession('user-many');
        const s2 = await newSession('user-many');
        const other = await newSession('user-other');
        const r = createRevocation(db.store, { now });
        expect(await r.revokeUserSessions('user-many', 'offboarded')).toBe(2);
        expect(await r.isRevoked(s1)).toBe(true);
        expect(await r.isRevoked(s2)).toBe(true);
        expect(await r.isRevoked(other)).toBe(false);
        expect(await createRevocation(db.second, { now }).isRevoked(s2)).toBe(true);
      });

      it('fails closed when the database cannot answer', async () => {
        const broken: Store = {
          query: async () => {
            throw new Error('connection refused');
          },
          transaction: async () => {
            throw new Error('connection refused');
          },
          close: async () => {},
        };
        await expect(createRevocation(broken).isRevoked('ses_x')).rejects.toMatchObject({
          code: 'ERR_STORE_UNAVAILABLE',
        });
      });
    },
  );
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `first boot on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      it('replicas booting together create exactly one signing key', async () => {
        const db = await openDatabase(backend.name);
        try {
          const kek = newKek();
          const stores = [db.store, db.second, db.store, db.second];
          const rings = stores.map((s) => createKeyRing(s, kek, { accessTokenTtlS: TTL_S }));
          await Promise.all(rings.map((r) => r.refresh()));
          const rows = await db.store.query<{ kid: string }>('SELECT kid FROM signing_keys');
          expect(rows.rows).toHaveLength(1);
          const kids = await Promise.all(rings.map(async (r) => (await r.activeSigningKey()).kid));
          expect(new Set(kids)).toEqual(new Set([rows.rows[0]?.kid]));
        } finally {
          await db.close();
        }
      });
    },
  );
}
