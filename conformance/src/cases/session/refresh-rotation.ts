/**
 * SESSION-13 — the `refresh_token` grant answers a new access token and a new refresh token, each refresh
 * rotating again; the new access token works. (That the old refresh token stops working is reuse, SESSION-14.)
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { toTokenSet } from '../../signin/driver.ts';
import { expectAccepted, expectNoStore } from './support.ts';

export default defineCase({
  id: 'session/refresh-rotation',
  title: 'Every refresh answers a new access token and a new refresh token',
  feature: 'sign-in',
  requirements: ['SESSION-13'],
  timeoutMs: 30_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    let tokens = await ctx.signIn(user);
    expectThat(tokens.refreshToken, 'the device-code grant answered no refresh_token');
    const seen = new Set([tokens.refreshToken]);
    for (let i = 1; i <= 3; i++) {
      const sentAt = Date.now();
      const answer = await ctx.oauth.refresh(tokens.refreshToken as string);
      expectNoStore(answer.headers, `refresh #${i}`);
      const next = toTokenSet(answer, sentAt, `refresh #${i}`);
      expectThat(next.tokenType.toLowerCase() === 'bearer', `refresh #${i}: token_type is ${next.tokenType}`);
      expectThat(next.refreshToken, `refresh #${i} answered no new refresh_token`);
      expectThat(!seen.has(next.refreshToken), `refresh #${i} answered a refresh token seen before`);
      expectThat(
        next.accessToken !== tokens.accessToken,
        `refresh #${i} answered the same access token again`,
      );
      seen.add(next.refreshToken);
      await expectAccepted(ctx, next.accessToken, `the access token of refresh #${i}`);
      tokens = next;
    }
  },
});
