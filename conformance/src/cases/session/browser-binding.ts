/**
 * SESSION-8 — a sign-in is bound to the browser that confirmed the code: when the IdP's answer arrives in another
 * browser (an attacker confirms their own code and sends the IdP link to a victim, who signs in), the gateway
 * must not approve the device code.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage } from '../../signin/driver.ts';
import { expectNotApproved } from './support.ts';

export default defineCase({
  id: 'session/browser-binding',
  title: "The IdP's answer in another browser does not approve the device code",
  feature: 'sign-in',
  requirements: ['SESSION-8'],
  timeoutMs: 30_000,
  async run(ctx) {
    const idpOrigin = new URL(ctx.idp.origin).origin;
    const device = await ctx.oauth.startDeviceAuthorization();
    const attacker = ctx.newBrowser();
    const page = await ctx.oauth.openVerificationPage(attacker, device);
    const toIdp = await ctx.oauth.submitVerification(attacker, page, { action: 'approve', stopAtIdp: true });
    expectThat(
      toIdp.location !== undefined && new URL(toIdp.location).origin === idpOrigin,
      `confirming the code did not lead to the IdP: ${describePage(toIdp)}`,
    );

    const victim = ctx.newBrowser();
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const login = await victim.get(toIdp.location);
    const result = await ctx.oauth.loginAtIdp(victim, login, user);
    expectThat(
      ctx.idp.events.some((e) => e.type === 'login' && e.subject === user.subject),
      `the victim's sign-in at the IdP did not happen: ${describePage(result)}`,
    );
    const state = await expectNotApproved(ctx, device, "after the IdP's answer arrived in another browser");
    ctx.note(`the other browser got ${result.status}; the poll answered ${state}`);
  },
});
