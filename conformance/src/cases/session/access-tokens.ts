/**
 * SESSION-11 — the full device flow ends in a short-lived access token (`expires_in` at most a day, `token_type`
 * Bearer) and a refresh token. When the access token is a JWT (the protocol keeps it opaque to clients), it is
 * signed with an asymmetric algorithm, names its key (`kid`), and identifies the subject, email, groups and
 * session, with an `exp` that matches `expires_in`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { decodeJwt } from '../../signin/jwt.ts';
import { expectAccepted } from './support.ts';

const ASYMMETRIC = /^(ES(256|384|512)|RS(256|384|512)|PS(256|384|512)|EdDSA|Ed25519)$/;

export default defineCase({
  id: 'session/access-tokens',
  title: 'Sign-in ends in a short-lived, asymmetrically signed access token and a refresh token',
  feature: 'sign-in',
  requirements: ['SESSION-11'],
  timeoutMs: 30_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const device = await ctx.oauth.startDeviceAuthorization();
    await ctx.oauth.approve(device, user);
    const tokens = await ctx.oauth.pollForTokens(device);
    expectThat(
      tokens.tokenType.toLowerCase() === 'bearer',
      `token_type is ${JSON.stringify(tokens.tokenType)}`,
    );
    expectThat(
      Number.isInteger(tokens.raw.expires_in) && tokens.expiresIn > 0 && tokens.expiresIn <= 86400,
      `expires_in ${tokens.raw.expires_in} is not a lifetime of at most a day`,
    );
    expectThat(tokens.refreshToken, 'no refresh_token: the client would have to sign in again every hour');
    await expectAccepted(ctx, tokens.accessToken, 'the new access token');

    const jwt = decodeJwt(tokens.accessToken);
    if (!jwt) {
      ctx.note('the access token is opaque: its signature and claims are not visible to the kit');
      return;
    }
    const alg = String(jwt.header.alg);
    expectThat(ASYMMETRIC.test(alg), `the access token is signed with ${alg}, not an asymmetric algorithm`);
    expectThat(
      typeof jwt.header.kid === 'string' && jwt.header.kid !== '',
      'the access token names no key (kid)',
    );
    const c = jwt.payload;
    expectThat(
      c.sub === user.subject,
      `sub is ${JSON.stringify(c.sub)}, not the IdP subject ${user.subject}`,
    );
    expectThat(c.email === user.email, `email is ${JSON.stringify(c.email)}, not ${user.email}`);
    expectThat(
      Array.isArray(c.groups) && c.groups.includes(ctx.policy.groups.developers),
      `groups ${JSON.stringify(c.groups)} lack the user's IdP group`,
    );
    expectThat(typeof c.sid === 'string' && c.sid !== '', 'the access token names no session (sid)');
    expectThat(typeof c.exp === 'number', 'the access token has no exp');
    const lifetime =
      (c.exp as number) - (typeof c.iat === 'number' ? c.iat : Math.floor(tokens.obtainedAt / 1000));
    expectThat(
      Math.abs(lifetime - tokens.expiresIn) <= 5,
      `exp - iat is ${lifetime} s but expires_in says ${tokens.expiresIn} s`,
    );
    ctx.note(`${alg} access token, ${tokens.expiresIn} s`);
  },
});
