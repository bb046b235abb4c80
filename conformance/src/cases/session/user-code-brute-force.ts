/**
 * SESSION-7 — the verification page limits user-code attempts per client address: a browser that submits wrong
 * codes one after another is soon answered `429`, and is then refused even the right code (the limit is not just a
 * message on wrong guesses), while another person's browser still signs in.
 *
 * The attacker's browser has a loopback address of its own, so its lock-out does not touch the other cases.
 */
import { expectThat, fail } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage } from '../../signin/driver.ts';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/** A gateway must have started refusing after this many wrong codes from one address. */
const MAX_ATTEMPTS = 100;

export default defineCase({
  id: 'session/user-code-brute-force',
  title: 'Guessing user codes from one address is rate-limited (429), the right code included',
  feature: 'sign-in',
  requirements: ['SESSION-7'],
  timeoutMs: 90_000,
  async run(ctx) {
    const victim = await ctx.oauth.startDeviceAuthorization();
    const attacker = ctx.newBrowser();
    const idpOrigin = new URL(ctx.idp.origin).origin;
    const guess = (): string => {
      const raw = ctx.rng.string(8, ALPHABET);
      return raw === victim.userCode.replace('-', '') ? guess() : `${raw.slice(0, 4)}-${raw.slice(4)}`;
    };
    let limitedAfter: number | undefined;
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      const page = await attacker.get(victim.verificationUri, { stopAt: (u) => u.origin === idpOrigin });
      if (page.status === 429) {
        limitedAfter = i - 1;
        break;
      }
      const form = page.forms.find((f) => f.fields.some((x) => x.name === 'user_code'));
      expectThat(form, `the verification page (attempt ${i}) has no code form: ${describePage(page)}`);
      const answer = await ctx.oauth.submitVerification(attacker, page, {
        action: 'approve',
        userCode: guess(),
        stopAtIdp: true,
      });
      expectThat(
        !answer.location || new URL(answer.location).origin !== idpOrigin,
        `a wrong user code was sent to the IdP for approval (attempt ${i})`,
      );
      if (answer.status === 429) {
        limitedAfter = i;
        break;
      }
    }
    if (limitedAfter === undefined) {
      fail(
        `${MAX_ATTEMPTS} wrong user codes from one address and the verification page still takes attempts`,
      );
    }
    ctx.note(`limited after ${limitedAfter} wrong codes`);

    // The right code from the locked-out address is refused too.
    const page = await attacker.get(victim.verificationUri, { stopAt: (u) => u.origin === idpOrigin });
    if (page.status !== 429 && page.forms.some((f) => f.fields.some((x) => x.name === 'user_code'))) {
      const right = await ctx.oauth.submitVerification(attacker, page, {
        action: 'approve',
        userCode: victim.userCode,
        stopAtIdp: true,
      });
      expectThat(
        !right.location || new URL(right.location).origin !== idpOrigin,
        'after the limit, the right user code from the same address was still sent to the IdP',
      );
    }

    // Another person (another address) is not locked out.
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    await ctx.oauth.approve(victim, user);
    await ctx.oauth.pollForTokens(victim);
  },
});
