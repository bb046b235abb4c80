/**
 * SESSION-17, SESSION-18 — RFC 7009 revocation of a refresh token or an access token ends its session: the access
 * token is refused within 5 s and the refresh token is `invalid_grant`. A token the gateway does not know still
 * gets `200`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectAccepted, expectOAuthError, expectRefusedWithin } from './support.ts';

export default defineCase({
  id: 'session/revocation',
  title: 'Revoking a refresh or access token ends the session within 5 seconds',
  feature: 'sign-in',
  requirements: ['SESSION-17', 'SESSION-18'],
  timeoutMs: 40_000,
  async run(ctx) {
    const table: Array<[string, 'refresh_token' | 'access_token', boolean]> = [
      ['the refresh token', 'refresh_token', true],
      ['the access token', 'access_token', true],
      ['the refresh token, without token_type_hint', 'refresh_token', false],
    ];
    const latencies: number[] = [];
    for (const [what, kind, hint] of table) {
      const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
      const tokens = await ctx.signIn(user);
      expectThat(tokens.refreshToken, 'the device-code grant answered no refresh_token');
      await expectAccepted(ctx, tokens.accessToken, 'the access token before revocation');
      const token = kind === 'refresh_token' ? tokens.refreshToken : tokens.accessToken;
      const answer = await ctx.oauth.revoke(token, hint ? kind : undefined);
      expectThat(answer.status === 200, `revoking ${what} answered ${answer.status} ${answer.error ?? ''}`);
      latencies.push(
        await expectRefusedWithin(ctx, tokens.accessToken, `the access token after revoking ${what}`),
      );
      expectOAuthError(
        await ctx.oauth.refresh(tokens.refreshToken),
        401,
        'invalid_grant',
        `the refresh token after revoking ${what}`,
      );
    }
    for (const [what, token] of [
      ['an unknown token', `${ctx.rng.string(43)}`],
      ['an unknown JWT-looking token', `eyJhbGciOiJFUzI1NiJ9.${ctx.rng.string(40)}.${ctx.rng.string(40)}`],
    ]) {
      const answer = await ctx.oauth.revoke(token as string);
      expectThat(answer.status === 200, `revoking ${what} answered ${answer.status}; RFC 7009 wants 200`);
    }
    ctx.note(`access tokens refused ${latencies.join(', ')} ms after revocation`);
  },
});
