/**
 * ADMIN-4: an admin revokes one session, or every session of a user, through the admin API on one replica; a live
 * access token stops working on that replica at once and on another replica (its own revocation cache, already
 * holding "not revoked") within 5 seconds, and the session's refresh token gets `invalid_grant`. Other users are
 * untouched. PGlite always, PostgreSQL when OCG_TEST_DATABASE_URL is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_REVOKED } from '../src/handlers/admin.ts';
import { type Harness, type Replica, startHarness } from './admin-harness.ts';
import { BACKENDS, send } from './helpers.ts';

const LIMIT_MS = 5000;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Polls a bearer endpoint on `replica` until the token is refused; returns how long that took. */
async function msUntilRefused(replica: Replica, token: string, since: number): Promise<number> {
  for (;;) {
    const r = await send(`${replica.url}/v1/models`, { headers: bearer(token) });
    if (r.status === 401) {
      expect(JSON.parse(r.body).error.type).toBe('authentication_error');
      return Date.now() - since;
    }
    expect(r.status).toBe(200);
    if (Date.now() - since > LIMIT_MS + 1000) return Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `revocation through the admin API on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      let h: Harness;
      let b: Replica;
      let admin: string;

      beforeAll(async () => {
        h = await startHarness({
          backend: backend.name,
          adminGroups: { write: ['gateway-admins'] },
          policies: [{ name: 'all', match: { everyone: true }, models: [] }],
        });
        b = await h.replica();
        admin = (await h.signIn({ subject: 'u-admin', groups: ['gateway-admins'] })).token;
      });
      afterAll(async () => {
        await h?.close();
      });

      it('revokeSession stops a live access token on every replica within 5 s, and its refresh token', async () => {
        const user = await h.signIn({ subject: 'u-victim' });
        const bystander = await h.signIn({ subject: 'u-victim' });
        // Both replicas have seen the token as valid, so their caches say "not revoked".
        for (const url of [h.url, b.url]) {
          expect((await send(`${url}/v1/models`, { headers: bearer(user.token) })).status).toBe(200);
        }

        const started = Date.now();
        const r = await send(`${h.url}/v1/admin/sessions/${user.sessionId}/revoke`, {
          method: 'POST',
          headers: bearer(admin),
        });
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body)).toMatchObject({ id: user.sessionId, revoked_reason: ADMIN_REVOKED });

        // The revoking replica: at once.
        expect((await send(`${h.url}/v1/models`, { headers: bearer(user.token) })).status).toBe(401);
        // The other replica: within 5 s.
        expect(await msUntilRefused(b, user.token, started)).toBeLessThan(LIMIT_MS);
        // The session's refresh token is dead too (the token endpoint answers 401 invalid_grant).
        await expect(h.sessions.rotateRefreshToken(user.refreshToken)).rejects.toMatchObject({
          code: 'ERR_INVALID_GRANT',
        });
        // The user's other session is untouched.
        expect((await send(`${b.url}/v1/models`, { headers: bearer(bystander.token) })).status).toBe(200);

        // Revoking again answers the session as it is, revoked at the first time.
        const again = await send(`${b.url}/v1/admin/sessions/${user.sessionId}/revoke`, {
          method: 'POST',
          headers: bearer(admin),
        });
        expect(again.status).toBe(200);
        expect(JSON.parse(again.body).revoked_at).toBe(JSON.parse(r.body).revoked_at);
      });

      it('revokeUserSessions stops every session of the user within 5 s, and no one else’s', async () => {
        const s1 = await h.signIn({ subject: 'u-leaver', groups: ['eng'] });
        const s2 = await h.signIn({ subject: 'u-leaver', groups: ['eng'] });
        const other = await h.signIn({ subject: 'u-stayer', groups: ['eng'] });
        for (const t of [s1.token, s2.token, other.token]) {
          expect((await send(`${b.url}/v1/models`, { headers: bearer(t) })).status).toBe(200);
        }

        const started = Date.now();
        const r = await send(`${h.url}/v1/admin/users/u-leaver/revoke_sessions`, {
          method: 'POST',
          headers: bearer(admin),
        });
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body)).toEqual({ type: 'revocation', user_id: 'u-leaver', sessions_revoked: 2 });

        for (const t of [s1.token, s2.token]) {
          expect((await send(`${h.url}/v1/models`, { headers: bearer(t) })).status).toBe(401);
          expect(await msUntilRefused(b, t, started)).toBeLessThan(LIMIT_MS);
        }
        for (const refresh of [s1.refreshToken, s2.refreshToken]) {
          await expect(h.sessions.rotateRefreshToken(refresh)).rejects.toMatchObject({
            code: 'ERR_INVALID_GRANT',
          });
        }
        expect((await send(`${b.url}/v1/models`, { headers: bearer(other.token) })).status).toBe(200);

        const listed = JSON.parse(
          (await send(`${b.url}/v1/admin/sessions?user_id=u-leaver`, { headers: bearer(admin) })).body,
        );
        expect(listed.data).toHaveLength(2);
        for (const s of listed.data) expect(s.revoked_reason).toBe(ADMIN_REVOKED);

        const again = await send(`${h.url}/v1/admin/users/u-leaver/revoke_sessions`, {
          method: 'POST',
          headers: bearer(admin),
        });
        expect(JSON.parse(again.body).sessions_revoked).toBe(0);
      });

      it('records who revoked in the log, never the tokens', async () => {
        const victim = await h.signIn({ subject: 'u-logged' });
        await send(`${h.url}/v1/admin/sessions/${victim.sessionId}/revoke`, {
          method: 'POST',
          headers: bearer(admin),
        });
        const line = h.log
          .records()
          .find((l) => l.msg === 'admin revoked a session' && l.session_id === victim.sessionId);
        expect(line).toMatchObject({ by: 'user:u-admin' });
        const text = h.log.lines.join('\n');
        for (const secret of [victim.token, victim.refreshToken, admin]) expect(text).not.toContain(secret);
      });
    },
  );
}
