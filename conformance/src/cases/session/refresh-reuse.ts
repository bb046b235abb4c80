/**
 * SESSION-14, SESSION-18 — presenting a refresh token that was already rotated is `401 invalid_grant` and revokes
 * the whole session: its current refresh token stops working and its access tokens are refused within 5 s. (A
 * stolen refresh token used by the thief or the victim, whichever comes second, ends the session for both.)
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectAccepted, expectOAuthError, expectRefusedWithin } from './support.ts';

export default defineCase({
  id: 'session/refresh-reuse',
  title: 'Reusing a rotated refresh token revokes the whole session',
  feature: 'sign-in',
  requirements: ['SESSION-14', 'SESSION-18'],
  timeoutMs: 40_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const first = await ctx.signIn(user);
    expectThat(first.refreshToken, 'the device-code grant answered no refresh_token');
    const second = await ctx.oauth.refreshTokens(first.refreshToken);
    expectThat(second.refreshToken, 'the refresh answered no refresh_token');
    await expectAccepted(ctx, second.accessToken, 'the access token after one refresh');

    // An unrelated session of the same user must survive (the revocation is per session).
    const bystander = await ctx.signIn(user);

    expectOAuthError(
      await ctx.oauth.refresh(first.refreshToken),
      401,
      'invalid_grant',
      'the rotated refresh token',
    );
    expectOAuthError(
      await ctx.oauth.refresh(second.refreshToken),
      401,
      'invalid_grant',
      "the session's current refresh token after the reuse",
    );
    const ms = await expectRefusedWithin(
      ctx,
      second.accessToken,
      "the session's access token after the reuse",
    );
    await expectRefusedWithin(ctx, first.accessToken, "the session's first access token after the reuse");
    ctx.note(`the session's access token was refused ${ms} ms after the reuse`);
    await expectAccepted(ctx, bystander.accessToken, "another session's access token");
    expectThat(bystander.refreshToken, 'the second sign-in answered no refresh_token');
    await ctx.oauth.refreshTokens(bystander.refreshToken);
  },
});
