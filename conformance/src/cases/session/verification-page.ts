/**
 * SESSION-5 — the verification page shows the user code for confirmation and approves nothing by itself: opening
 * `verification_uri_complete` (the code pre-filled) neither sends the browser to the IdP nor approves the device
 * code, and the page has no automatic submission (no refresh to the IdP, no script).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage, pageText } from '../../signin/driver.ts';
import { expectNotApproved } from './support.ts';

export default defineCase({
  id: 'session/verification-page',
  title: 'The verification page shows the code and waits for the user to confirm it',
  feature: 'sign-in',
  requirements: ['SESSION-5'],
  timeoutMs: 20_000,
  async run(ctx) {
    const device = await ctx.oauth.startDeviceAuthorization();
    const browser = ctx.newBrowser();
    const page = await ctx.oauth.openVerificationPage(browser, device, 'complete');
    const idpOrigin = new URL(ctx.idp.origin).origin;
    expectThat(
      new URL(page.url).origin !== idpOrigin &&
        !page.redirects.some((r) => new URL(r.location).origin === idpOrigin),
      `opening verification_uri_complete sent the browser to the IdP without the user confirming: ${describePage(page)}`,
    );
    const shown =
      `${pageText(page, 100_000)} ${page.forms.flatMap((f) => f.fields.map((x) => x.value)).join(' ')}`
        .toUpperCase()
        .replace(/\s+/g, ' ');
    expectThat(
      shown.includes(device.userCode) || shown.includes(device.userCode.replace('-', '')),
      'the verification page does not show the user code for confirmation',
    );
    expectThat(
      page.forms.some((f) => f.fields.some((x) => x.name === 'user_code')),
      'the verification page has no form to confirm the code',
    );
    expectThat(
      !page.document
        .querySelectorAll('meta')
        .some((m) => (m.getAttribute('http-equiv') ?? '').toLowerCase() === 'refresh'),
      'the verification page refreshes by itself (<meta http-equiv="refresh">)',
    );
    const scripts = page.document.querySelectorAll('script');
    expectThat(
      !scripts.some((s) => /\.submit\s*\(|requestSubmit/.test(s.text)),
      'the verification page carries a script that submits its form',
    );
    await expectNotApproved(ctx, device, 'after only opening the verification page');
    expectThat(
      !ctx.idp.events.some((e) => e.type === 'authorization' || e.type === 'login'),
      'the IdP saw a sign-in although the user confirmed nothing',
    );

    const blank = await ctx.oauth.openVerificationPage(ctx.newBrowser(), device, 'typed');
    const field = blank.forms.flatMap((f) => f.fields).find((x) => x.name === 'user_code');
    expectThat(field, `verification_uri shows no code field: ${describePage(blank)}`);
  },
});
