/**
 * ADMIN-4 — an admin ends one session or every session of a user. A developers user signs in twice; a write admin
 * finds both sessions (`GET /v1/admin/sessions?user_id=<IdP subject>`), revokes one: its access token is refused
 * within 5 s, its refresh is `401 invalid_grant`, the other session still works; then revokes every session of the
 * user: the other access token is refused within 5 s and its refresh is `401 invalid_grant`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { decodeJwt } from '../../signin/jwt.ts';
import { admin, expectAdmin, signedIn } from '../policy/support.ts';
import { expectAccepted, expectOAuthError, expectRefusedWithin } from '../session/support.ts';

interface SessionView {
  id: string;
  user_id: string;
  revoked_at?: string | null;
}

export default defineCase({
  id: 'admin/revoke-sessions',
  title: "An admin revokes a session or all of a user's sessions: refused within 5 s, refresh invalid_grant",
  feature: 'admin',
  requirements: ['ADMIN-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    const { groups } = ctx.policy;
    const user = ctx.idp.createUser({ groups: [groups.developers] });
    const older = await ctx.signIn(user);
    const newer = await ctx.signIn(user);
    expectThat(older.refreshToken && newer.refreshToken, 'the device-code grant answered no refresh_token');
    const { tokens: adminTokens } = await signedIn(ctx, [groups.adminWrite]);
    const writer = { bearer: adminTokens.accessToken };

    const listed = await admin(
      ctx,
      writer,
      'listSessions',
      'GET',
      `/v1/admin/sessions?user_id=${encodeURIComponent(user.subject)}`,
    );
    expectAdmin(listed, 200, null, "listing the user's sessions");
    const sessions = (listed.json as { data: SessionView[] }).data;
    expectThat(
      sessions.length === 2 && sessions.every((s) => s.user_id === user.subject),
      `the user signed in twice, but listSessions?user_id= answered ${sessions.length} sessions (user_ids ${sessions
        .map((s) => s.user_id)
        .join(', ')})`,
    );
    // Which session is the newer sign-in: the access token's sid when it has one, else the list's order (newest first).
    const sid = decodeJwt(newer.accessToken)?.payload.sid;
    const target = sessions.find((s) => s.id === sid) ?? (sessions[0] as SessionView);
    if (sessions.every((s) => s.id !== sid)) ctx.note('no sid claim names a listed session: took the newest');

    const revoked = await admin(
      ctx,
      writer,
      'revokeSession',
      'POST',
      `/v1/admin/sessions/${encodeURIComponent(target.id)}/revoke`,
    );
    expectAdmin(revoked, 200, null, 'revoking the newer session');
    const view = revoked.json as SessionView;
    expectThat(
      view.id === target.id && typeof view.revoked_at === 'string',
      `the revoked session answered id ${JSON.stringify(view.id)}, revoked_at ${JSON.stringify(view.revoked_at)}`,
    );
    const first = await expectRefusedWithin(ctx, newer.accessToken, "the revoked session's access token");
    expectOAuthError(
      await ctx.oauth.refresh(newer.refreshToken ?? ''),
      401,
      'invalid_grant',
      "the revoked session's refresh token",
    );
    await expectAccepted(ctx, older.accessToken, "the user's other session, after one was revoked");

    const all = await admin(
      ctx,
      writer,
      'revokeUserSessions',
      'POST',
      `/v1/admin/users/${encodeURIComponent(user.subject)}/revoke_sessions`,
    );
    expectAdmin(all, 200, null, 'revoking every session of the user');
    const summary = all.json as { user_id?: unknown; sessions_revoked?: unknown };
    expectThat(
      summary.user_id === user.subject &&
        typeof summary.sessions_revoked === 'number' &&
        summary.sessions_revoked >= 1,
      `revoke_sessions answered user_id ${JSON.stringify(summary.user_id)}, sessions_revoked ${JSON.stringify(summary.sessions_revoked)}`,
    );
    const second = await expectRefusedWithin(ctx, older.accessToken, "the other session's access token");
    expectOAuthError(
      await ctx.oauth.refresh(older.refreshToken ?? ''),
      401,
      'invalid_grant',
      "the other session's refresh token",
    );
    ctx.note(`access tokens refused ${first} ms and ${second} ms after the admin revocations`);
  },
});
