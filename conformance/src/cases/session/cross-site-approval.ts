/**
 * SESSION-6 — the verification page's form cannot be submitted from elsewhere: a POST from another site or another
 * origin (the browser's `Origin` and `Sec-Fetch-Site` say so), one without the page's hidden anti-forgery fields,
 * or one carrying another browser's anti-forgery token, neither sends the user to the IdP nor approves the code.
 * The user's own submission then still works (the refusals were about the attack, not a broken page).
 */

import type { Page } from '../../browser/index.ts';
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage } from '../../signin/driver.ts';
import { expectNotApproved } from './support.ts';

export default defineCase({
  id: 'session/cross-site-approval',
  title: 'The verification form refuses cross-site and cross-origin posts and posts without its token',
  feature: 'sign-in',
  requirements: ['SESSION-6'],
  timeoutMs: 40_000,
  async run(ctx) {
    const device = await ctx.oauth.startDeviceAuthorization();
    const victim = ctx.newBrowser();
    const page = await ctx.oauth.openVerificationPage(victim, device);
    const form = page.forms.find((f) => f.fields.some((x) => x.name === 'user_code'));
    expectThat(form, `the verification page has no code form: ${describePage(page)}`);
    const idpOrigin = new URL(ctx.idp.origin).origin;
    const gateway = new URL(page.url);
    const otherOrigin = `${gateway.protocol}//${gateway.hostname}:${gateway.port === '1' ? '2' : '1'}/`;

    const approveField = form.submitters.find((s) => s.value === 'approve');
    const fields: Record<string, string> = {};
    for (const f of form.fields) fields[f.name] = f.value;
    fields.user_code = device.userCode;
    if (approveField?.name) fields[approveField.name] = 'approve';
    else fields.action = 'approve';
    const hidden = form.fields.filter((f) => f.type === 'hidden').map((f) => f.name);

    // Another browser's page: its own (valid) anti-forgery token.
    const other = ctx.newBrowser();
    const otherPage = await ctx.oauth.openVerificationPage(other, device);
    const otherForm = otherPage.forms.find((f) => f.fields.some((x) => x.name === 'user_code'));
    const foreignToken = Object.fromEntries(
      (otherForm?.fields ?? []).filter((f) => f.type === 'hidden').map((f) => [f.name, f.value]),
    );

    const attacks: Array<[string, () => Promise<Page>]> = [
      [
        'a post from another site (Origin http://attacker.example, Sec-Fetch-Site cross-site)',
        () => victim.post(form.action, fields, { initiator: 'http://attacker.example/phish', stopAt: atIdp }),
      ],
      [
        `a post from another origin of the same site (${otherOrigin})`,
        () => victim.post(form.action, fields, { initiator: otherOrigin, stopAt: atIdp }),
      ],
      [
        `a same-origin post without the page's hidden fields (${hidden.join(', ') || 'none'})`,
        () =>
          victim.post(
            form.action,
            Object.fromEntries(Object.entries(fields).filter(([k]) => !hidden.includes(k))),
            { initiator: page, stopAt: atIdp },
          ),
      ],
    ];
    if (hidden.length > 0 && Object.keys(foreignToken).length > 0) {
      attacks.push([
        "a same-origin post carrying another browser's anti-forgery token",
        () => victim.post(form.action, { ...fields, ...foreignToken }, { initiator: page, stopAt: atIdp }),
      ]);
    }
    function atIdp(u: URL): boolean {
      return u.origin === idpOrigin;
    }
    for (const [what, attack] of attacks) {
      const answer = await attack();
      expectThat(
        !answer.location || new URL(answer.location).origin !== idpOrigin,
        `${what}: the gateway sent the browser to the IdP to approve the code (${answer.status})`,
      );
      expectThat(
        answer.status < 300 || answer.status >= 400,
        `${what}: answered a redirect ${answer.status} → ${answer.location}`,
      );
    }
    await expectNotApproved(ctx, device, 'after the cross-site attempts');
    expectThat(
      !ctx.idp.events.some((e) => e.type === 'authorization'),
      'the IdP saw an authorization request',
    );

    // The user's own submission from a freshly loaded page still goes to the IdP.
    const again = await ctx.oauth.openVerificationPage(victim, device);
    const own = await ctx.oauth.submitVerification(victim, again, { action: 'approve', stopAtIdp: true });
    expectThat(
      own.location !== undefined && new URL(own.location).origin === idpOrigin,
      `the user's own confirmation did not lead to the IdP: ${describePage(own)}`,
    );
  },
});
