/**
 * SESSION-15 (deprovisioning) — a refresh re-checks the user at the IdP: a user disabled there, or removed, gets
 * `401 {"error":"invalid_grant"}` on the next refresh, which makes the client sign in again (and fail at the IdP).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectOAuthError } from './support.ts';

export default defineCase({
  id: 'session/deprovisioning',
  title: 'A user disabled or removed at the IdP gets invalid_grant on the next refresh',
  feature: 'sign-in',
  requirements: ['SESSION-15'],
  timeoutMs: 40_000,
  async run(ctx) {
    const table: Array<[string, (subject: string) => void]> = [
      ['disabled', (s) => ctx.idp.disableUser(s)],
      ['removed', (s) => ctx.idp.deleteUser(s)],
    ];
    for (const [what, deprovision] of table) {
      const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
      const tokens = await ctx.signIn(user);
      expectThat(tokens.refreshToken, 'the device-code grant answered no refresh_token');
      // One refresh while the user is still there: the re-check passes.
      const fresh = await ctx.oauth.refreshTokens(tokens.refreshToken);
      expectThat(fresh.refreshToken, 'the refresh answered no refresh_token');
      deprovision(user.subject);
      expectOAuthError(
        await ctx.oauth.refresh(fresh.refreshToken),
        401,
        'invalid_grant',
        `a refresh after the user was ${what} at the IdP`,
      );
    }
  },
});
