/**
 * SESSION-4 (denial) — a user who denies the request on the verification page ends the flow: the next poll is
 * `400 access_denied`. A user who cancels at the IdP does not approve the code either.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage } from '../../signin/driver.ts';
import { expectNotApproved, expectOAuthError } from './support.ts';

export default defineCase({
  id: 'session/access-denied',
  title: 'Denying on the verification page answers access_denied to the polling client',
  feature: 'sign-in',
  requirements: ['SESSION-4'],
  timeoutMs: 30_000,
  async run(ctx) {
    const device = await ctx.oauth.startDeviceAuthorization();
    const browser = ctx.newBrowser();
    const page = await ctx.oauth.openVerificationPage(browser, device);
    const denied = await ctx.oauth.submitVerification(browser, page, { action: 'deny', stopAtIdp: true });
    const idpOrigin = new URL(ctx.idp.origin).origin;
    expectThat(
      !denied.location || new URL(denied.location).origin !== idpOrigin,
      `denying sent the browser to the IdP: ${describePage(denied)}`,
    );
    expectOAuthError(await ctx.oauth.poll(device), 400, 'access_denied', 'polling after the user denied');

    // Cancelling at the IdP's sign-in page never approves the code.
    const other = await ctx.oauth.startDeviceAuthorization();
    const b2 = ctx.newBrowser();
    const atIdp = await ctx.oauth.submitVerification(b2, await ctx.oauth.openVerificationPage(b2, other), {
      action: 'approve',
    });
    expectThat(
      new URL(atIdp.url).origin === idpOrigin && atIdp.forms.some((f) => f.id === 'abort'),
      `confirming the code did not lead to the IdP's sign-in page: ${describePage(atIdp)}`,
    );
    const back = await b2.submitForm(atIdp, '#abort');
    const state = await expectNotApproved(ctx, other, 'after the user cancelled at the IdP');
    ctx.note(`after an IdP cancel the gateway showed ${back.status} and the poll answered ${state}`);
  },
});
