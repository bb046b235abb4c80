/**
 * SESSION-3 — user codes come from the base-20 alphabet `BCDFGHJKLMNPQRSTVWXZ`, shaped `XXXX-XXXX`, and the
 * verification page accepts them case-insensitively with or without the dash: a user who types the code in lower
 * case without its dash signs in.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const SHAPE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const SAMPLES = 8;

export default defineCase({
  id: 'session/user-code-format',
  title:
    'User codes are XXXX-XXXX in the base-20 alphabet and accepted in any case, with or without the dash',
  feature: 'sign-in',
  requirements: ['SESSION-3'],
  timeoutMs: 30_000,
  async run(ctx) {
    const codes: string[] = [];
    for (let i = 0; i < SAMPLES; i++) codes.push((await ctx.oauth.startDeviceAuthorization()).userCode);
    for (const code of codes) {
      expectThat(SHAPE.test(code), `user code ${JSON.stringify(code)} is not XXXX-XXXX in ${ALPHABET}`);
    }
    expectThat(new Set(codes).size === codes.length, 'two device authorizations answered the same user_code');
    const letters = new Set(codes.join('').replace(/-/g, ''));
    // 64 letters drawn uniformly from 20 miss more than 8 of them with probability < 1e-6.
    expectThat(
      letters.size >= 12,
      `only ${letters.size} distinct letters in ${SAMPLES} user codes: they do not look uniformly drawn`,
      { codes },
    );

    const spellings: Array<[string, (code: string) => string]> = [
      ['lower case without the dash', (c) => c.replace(/-/g, '').toLowerCase()],
      ['lower case with the dash', (c) => c.toLowerCase()],
    ];
    for (const [what, spell] of spellings) {
      const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
      const device = await ctx.oauth.startDeviceAuthorization();
      await ctx.oauth.approve(device, user, { via: 'typed', typedCode: spell(device.userCode) });
      const tokens = await ctx.oauth.pollForTokens(device);
      expectThat(tokens.accessToken, `a code typed in ${what} did not sign the user in`);
    }
  },
});
