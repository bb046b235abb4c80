/**
 * SESSION-10 — the gateway applies its claim rules at sign-in: by default a user whose `email_verified` is not true
 * is refused, as is a user outside the allowed email domains (the kit's fixture allows only its own domain), and
 * an Entra group overage (`_claim_names.groups`) is refused as the fixture configures it — never treated as "no
 * groups". Refused means no tokens: the device code is not approved.
 */
import { expectThat } from '../../errors.ts';
import type { MockIdpUserInput } from '../../mocks/idp/index.ts';
import { defineCase } from '../../runner/types.ts';
import { attemptSignIn, expectNotApproved } from './support.ts';

export default defineCase({
  id: 'session/claim-rules',
  title: 'Unverified emails, other email domains and group overages are refused at sign-in',
  feature: 'sign-in',
  requirements: ['SESSION-10'],
  timeoutMs: 40_000,
  async run(ctx) {
    const groups = [ctx.policy.groups.developers];
    const table: Array<[string, MockIdpUserInput]> = [
      ['email_verified false', { groups, emailVerified: false }],
      [
        'an email outside the allowed domains',
        { groups, email: `${ctx.rng.string(8).toLowerCase()}@elsewhere-${ctx.rng.hex(4)}.test` },
      ],
      ['an Entra group overage (the fixture says deny)', { groups, groupsOverage: true }],
    ];
    const seen: string[] = [];
    for (const [what, input] of table) {
      const user = ctx.idp.createUser(input);
      const attempt = await attemptSignIn(ctx, user);
      expectThat(
        ctx.idp.events.some((e) => e.type === 'login' && e.subject === user.subject),
        `${what}: the user's IdP sign-in did not happen`,
      );
      const state = await expectNotApproved(ctx, attempt.device, `a user with ${what}`);
      seen.push(`${what}: page ${attempt.result.status}, poll ${state}`);
    }
    // The same rules let an ordinary user through.
    await ctx.signIn(ctx.idp.createUser({ groups }));
    ctx.note(seen.join('; '));
  },
});
