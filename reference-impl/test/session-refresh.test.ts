/**
 * Sessions and refresh tokens on PGlite (always) and PostgreSQL (when OCG_TEST_DATABASE_URL is set): rotation,
 * reuse detection revoking the session, concurrent rotation, expiry, IdP refresh tokens encrypted at rest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { silentLogger } from '../src/log/logger.ts';
import { issueAccessToken, verifyAccessToken } from '../src/session/access-token.ts';
import { createKek, type Kek } from '../src/session/kek.ts';
import { createKeyRing } from '../src/session/keys.ts';
import { createRevocation } from '../src/session/revocation.ts';
import {
  createSessionManager,
  type NewSession,
  REFRESH_TOKEN_REUSE,
  type SessionManager,
  sessionPrincipal,
} from '../src/session/sessions.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';
import { BACKENDS, createTestDatabase } from './helpers.ts';

const T0 = Date.parse('2031-03-04T05:06:07Z');
const DAY_S = 86_400;
const REFRESH_TTL_S = 30 * DAY_S;
const SESSION_TTL_S = 90 * DAY_S;

const input = (subject = 'user-1', extra: Partial<NewSession> = {}): NewSession => ({
  subject,
  email: `${subject}@example.com`,
  name: 'Grace Hopper',
  groups: ['eng'],
  idpIssuer: 'https://idp.example.test',
  idpSubject: `idp-${subject}`,
  ttlS: SESSION_TTL_S,
  ...extra,
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function expectInvalidGrant(p: Promise<unknown>, message?: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(GatewayError);
  expect(caught).toMatchObject({ code: 'ERR_INVALID_GRANT', status: 401 });
  if (message) expect((caught as Error).message).toMatch(message);
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `sessions and refresh tokens on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      let store: Store;
      let second: Store;
      let drop = async () => {};
      let t = T0;
      const now = () => t;
      let kek: Kek;
      let sessions: SessionManager;

      beforeAll(async () => {
        let url = 'pglite:memory:';
        if (backend.name === 'postgres') ({ url, drop } = await createTestDatabase());
        store = await createStore(url, { logger: silentLogger });
        await migrate(store, { logger: silentLogger });
        second = backend.name === 'postgres' ? await createStore(url, { logger: silentLogger }) : store;
        kek = createKek(randomBytes(32).toString('base64url'));
        sessions = createSessionManager(store, kek, { refreshTokenTtlS: REFRESH_TTL_S, now });
      });
      afterAll(async () => {
        if (second && second !== store) await second.close();
        await store?.close();
        await drop();
      });

      it('creates a session whose refresh token is 256 random bits, stored only as its SHA-256', async () => {
        const { sessionId, refreshToken } = await sessions.createSession(input());
        expect(sessionId).toMatch(/^ses_[A-Za-z0-9_-]{22}$/);
        expect(refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Buffer.from(refreshToken, 'base64url')).toHaveLength(32);
        const rows = await store.query<{ token_hash: string; expires_at: Date }>(
          'SELECT token_hash, expires_at FROM refresh_tokens WHERE session_id = $1',
          [sessionId],
        );
        expect(rows.rows.map((r) => r.token_hash)).toEqual([sha256(refreshToken)]);
        expect(new Date(rows.rows[0]?.expires_at as Date).getTime()).toBe(T0 + REFRESH_TTL_S * 1000);
        expect(await sessions.getSession(sessionId)).toMatchObject({
          subject: 'user-1',
          email: 'user-1@example.com',
          groups: ['eng'],
          createdAt: T0,
          expiresAt: T0 + SESSION_TTL_S * 1000,
          revokedAt: null,
        });
      });

      it('rotates on every use; each old token is then dead', async () => {
        const { sessionId, refreshToken: r0 } = await sessions.createSession(input());
        t += 1000;
        const a = await sessions.rotateRefreshToken(r0);
        expect(a.refreshToken).not.toBe(r0);
        expect(a.session).toMatchObject({ id: sessionId, subject: 'user-1', refreshedAt: T0 + 1000 });
        const b = await sessions.rotateRefreshToken(a.refreshToken);
        expect(b.session.id).toBe(sessionId);
        const used = await store.query<{ token_hash: string; replaced_by: string | null }>(
          'SELECT token_hash, replaced_by FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL',
          [sessionId],
        );
        expect(new Map(used.rows.map((r) => [r.token_hash, r.replaced_by]))).toEqual(
          new Map([
            [sha256(r0), sha256(a.refreshToken)],
            [sha256(a.refreshToken), sha256(b.refreshToken)],
          ]),
        );
        t = T0;
      });

      it('reuse of a rotated token revokes the session: the new refresh token and its access tokens die too', async () => {
        const ring = createKeyRing(store, kek, { accessTokenTtlS: 3600, now });
        const revocation = createRevocation(store, { now });
        const otherReplica = createRevocation(second, { now });
        const sessions = createSessionManager(store, kek, {
          refreshTokenTtlS: REFRESH_TTL_S,
          now,
          onSessionRevoked: revocation.noteRevoked,
        });
        const { refreshToken: r0 } = await sessions.createSession(input('user-reuse'));
        const { session, refreshToken: r1 } = await sessions.rotateRefreshToken(r0);
        const opts = { issuer: 'https://gw', audience: 'https://gw', now };
        const { token } = await issueAccessToken(ring, { ...opts, ttlS: 3600 }, sessionPrincipal(session));
        expect(await verifyAccessToken(ring, revocation, token, opts)).toMatchObject({
          subject: 'user-reuse',
        });
        expect(await verifyAccessToken(ring, otherReplica, token, opts)).toMatchObject({
          subject: 'user-reuse',
        });

        await expectInvalidGrant(sessions.rotateRefreshToken(r0), /already used/); // the replay
        expect(await sessions.getSession(session.id)).toMatchObject({ revokedReason: REFRESH_TOKEN_REUSE });
        await expectInvalidGrant(sessions.rotateRefreshToken(r1), /revoked/);
        // This replica knows at once; another one once its cache entry (≤ 2 s) expires.
        await expect(verifyAccessToken(ring, revocation, token, opts)).rejects.toMatchObject({
          code: 'ERR_UNAUTHENTICATED',
        });
        t += 2000;
        try {
          await expect(verifyAccessToken(ring, otherReplica, token, opts)).rejects.toMatchObject({
            code: 'ERR_UNAUTHENTICATED',
          });
        } finally {
          t = T0;
        }
      });

      it('two concurrent rotations of one token: exactly one wins, the other is a replay', async () => {
        const other = createSessionManager(second, kek, { refreshTokenTtlS: REFRESH_TTL_S, now });
        const { sessionId, refreshToken } = await sessions.createSession(input('user-race'));
        const results = await Promise.allSettled([
          sessions.rotateRefreshToken(refreshToken),
          other.rotateRefreshToken(refreshToken),
          sessions.rotateRefreshToken(refreshToken),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.filter((r) => r.status === 'rejected');
        expect(rejected).toHaveLength(2);
        for (const r of rejected) expect(r.reason).toMatchObject({ code: 'ERR_INVALID_GRANT' });
        expect(await sessions.getSession(sessionId)).toMatchObject({ revokedReason: REFRESH_TOKEN_REUSE });
        const rows = await store.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM refresh_tokens WHERE session_id = $1',
          [sessionId],
        );
        expect(rows.rows[0]?.n).toBe('2'); // the original and the one winner's successor
      });

      const refused: Array<[name: string, token: () => Promise<string>, message: RegExp]> = [
        ['malformed', async () => 'not a token', /invalid/],
        ['unknown', async () => randomBytes(32).toString('base64url'), /invalid/],
        [
          'revoked session',
          async () => {
            const { sessionId, refreshToken } = await sessions.createSession(input('user-rev'));
            await createRevocation(store).revokeSession(sessionId, 'admin');
            return refreshToken;
          },
          /revoked/,
        ],
        [
          'expired refresh token',
          async () => {
            const { refreshToken } = await sessions.createSession(input('user-idle'));
            t = T0 + REFRESH_TTL_S * 1000;
            return refreshToken;
          },
          /expired/,
        ],
        [
          'ended session',
          async () => {
            const { refreshToken } = await sessions.createSession(input('user-old', { ttlS: 60 }));
            t = T0 + 60_000;
            return refreshToken;
          },
          /ended/,
        ],
      ];
      it.each(refused)(
        'a refresh with a token that is %s is ERR_INVALID_GRANT',
        async (_n, token, message) => {
          t = T0;
          try {
            await expectInvalidGrant(sessions.rotateRefreshToken(await token()), message);
          } finally {
            t = T0;
          }
        },
      );

      it('a refresh token never outlives its session', async () => {
        const { sessionId } = await sessions.createSession(input('user-short', { ttlS: 120 }));
        const rows = await store.query<{ expires_at: Date }>(
          'SELECT expires_at FROM refresh_tokens WHERE session_id = $1',
          [sessionId],
        );
        expect(new Date(rows.rows[0]?.expires_at as Date).getTime()).toBe(T0 + 120_000);
      });

      it('keeps the IdP refresh token encrypted at rest and bound to its session', async () => {
        const idpToken = 'idp-refresh-token-0123456789';
        const { sessionId } = await sessions.createSession(input('user-idp', { idpRefreshToken: idpToken }));
        const raw = await store.query<{ enc: string }>(
          'SELECT idp_refresh_token_encrypted AS enc FROM sessions WHERE id = $1',
          [sessionId],
        );
        expect(raw.rows[0]?.enc).not.toContain(idpToken);
        expect(raw.rows[0]?.enc.split('.')).toHaveLength(5);
        expect(await sessions.getIdpRefreshToken(sessionId)).toBe(idpToken);

        // Copied onto another session's row, it does not decrypt as that session's token.
        const { sessionId: other } = await sessions.createSession(input('user-idp2'));
        expect(await sessions.getIdpRefreshToken(other)).toBeNull();
        await store.query('UPDATE sessions SET idp_refresh_token_encrypted = $2 WHERE id = $1', [
          other,
          raw.rows[0]?.enc,
        ]);
        await expect(sessions.getIdpRefreshToken(other)).rejects.toMatchObject({
          code: 'ERR_DECRYPTION_FAILED',
        });

        const wrongKek = createSessionManager(store, createKek(randomBytes(32).toString('base64')), {
          refreshTokenTtlS: REFRESH_TTL_S,
        });
        await expect(wrongKek.getIdpRefreshToken(sessionId)).rejects.toMatchObject({
          code: 'ERR_KEK_MISMATCH',
        });
      });

      it('updates the identity after a re-check at the IdP, and rotates the IdP token', async () => {
        const { sessionId } = await sessions.createSession(input('user-upd', { idpRefreshToken: 'idp-1' }));
        expect(
          await sessions.updateSessionIdentity(sessionId, {
            email: 'new@example.com',
            name: null,
            groups: [],
          }),
        ).toBe(true);
        expect(await sessions.getSession(sessionId)).toMatchObject({
          email: 'new@example.com',
          name: null,
          groups: [],
        });
        expect(await sessions.getIdpRefreshToken(sessionId)).toBe('idp-1');
        expect(
          await sessions.updateSessionIdentity(sessionId, { email: null, name: 'N', groups: ['g'] }, 'idp-2'),
        ).toBe(true);
        expect(await sessions.getIdpRefreshToken(sessionId)).toBe('idp-2');
        await createRevocation(store).revokeSession(sessionId, 'admin');
        expect(await sessions.updateSessionIdentity(sessionId, { email: null, name: null, groups: [] })).toBe(
          false,
        );
      });

      it('a pending session gets its first refresh token once', async () => {
        const { sessionId } = await sessions.createPendingSession(input('user-device'));
        const first = await sessions.issueInitialRefreshToken(sessionId);
        expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
        await expectInvalidGrant(sessions.issueInitialRefreshToken(sessionId));
        await expectInvalidGrant(sessions.issueInitialRefreshToken('ses_unknown'));
        expect((await sessions.rotateRefreshToken(first)).session.id).toBe(sessionId);
      });

      it('revokes the session of a refresh token (logout, RFC 7009)', async () => {
        const { sessionId, refreshToken } = await sessions.createSession(input('user-logout'));
        expect(await sessions.revokeByRefreshToken(randomBytes(32).toString('base64url'))).toBe(false);
        expect(await sessions.revokeByRefreshToken('junk')).toBe(false);
        expect(await sessions.revokeByRefreshToken(refreshToken)).toBe(true);
        expect(await sessions.getSession(sessionId)).toMatchObject({ revokedReason: 'logout' });
        await expectInvalidGrant(sessions.rotateRefreshToken(refreshToken), /revoked/);
      });
    },
  );
}
