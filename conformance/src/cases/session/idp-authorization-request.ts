/**
 * SESSION-9 — the gateway signs the user in at the IdP with the authorization code flow, PKCE S256, `state` and
 * `nonce`, seen from the browser: the redirect to the IdP asks for `response_type=code` with a fresh
 * `code_challenge` (S256), `state` and `nonce` per sign-in, the `openid` scope and a registered redirect URI; and
 * an IdP answer whose `state` was tampered with approves nothing.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { describePage } from '../../signin/driver.ts';
import { expectNotApproved } from './support.ts';

export default defineCase({
  id: 'session/idp-authorization-request',
  title: 'The IdP is asked for a code with PKCE S256, state and nonce; a tampered state approves nothing',
  feature: 'sign-in',
  requirements: ['SESSION-9'],
  timeoutMs: 40_000,
  async run(ctx) {
    const idpOrigin = new URL(ctx.idp.origin).origin;
    const requests: URL[] = [];
    for (let i = 0; i < 2; i++) {
      const device = await ctx.oauth.startDeviceAuthorization();
      const browser = ctx.newBrowser();
      const page = await ctx.oauth.openVerificationPage(browser, device);
      const toIdp = await ctx.oauth.submitVerification(browser, page, { action: 'approve', stopAtIdp: true });
      expectThat(
        toIdp.location && new URL(toIdp.location).origin === idpOrigin,
        `confirming the code did not lead to the IdP: ${describePage(toIdp)}`,
      );
      requests.push(new URL(toIdp.location));
    }
    const registered = ctx.idp.clients.flatMap((c) => [...c.redirectUris]);
    for (const url of requests) {
      const q = url.searchParams;
      const what = `the authorization request ${url.pathname}`;
      expectThat(
        q.get('response_type') === 'code',
        `${what}: response_type is ${q.get('response_type')}, not code`,
      );
      expectThat(q.get('code_challenge_method') === 'S256', `${what}: code_challenge_method is not S256`);
      expectThat(
        /^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') ?? ''),
        `${what}: code_challenge is not a base64url SHA-256 (43 characters)`,
      );
      expectThat((q.get('state') ?? '').length >= 16, `${what}: no state of at least 16 characters`);
      expectThat((q.get('nonce') ?? '').length >= 16, `${what}: no nonce of at least 16 characters`);
      expectThat((q.get('scope') ?? '').split(' ').includes('openid'), `${what}: the scope lacks openid`);
      expectThat(
        registered.includes(q.get('redirect_uri') ?? ''),
        `${what}: redirect_uri ${q.get('redirect_uri')} is not one the adapter registered`,
      );
    }
    const [a, b] = requests.map((u) => u.searchParams);
    for (const p of ['state', 'nonce', 'code_challenge']) {
      expectThat(a?.get(p) !== b?.get(p), `two sign-ins used the same ${p}`);
    }

    // The IdP's answer comes back with another state: nothing may be approved.
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const device2 = await ctx.oauth.startDeviceAuthorization();
    const b2 = ctx.newBrowser();
    const p2 = await ctx.oauth.openVerificationPage(b2, device2);
    const toIdp2 = await ctx.oauth.submitVerification(b2, p2, { action: 'approve', stopAtIdp: true });
    expectThat(toIdp2.location, 'confirming the code did not lead to the IdP');
    const login = await b2.get(toIdp2.location);
    const callback = await b2.submitForm(
      login,
      '#login',
      { login: user.email, password: user.password },
      {
        stopAt: (u) => u.origin !== idpOrigin && u.searchParams.has('state'),
      },
    );
    expectThat(
      callback.location && new URL(callback.location).searchParams.has('code'),
      `the IdP did not redirect back with a code: ${describePage(callback)}`,
    );
    const tampered = new URL(callback.location);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state') ?? ''}x`);
    await b2.get(tampered, { initiator: idpOrigin });
    await expectNotApproved(ctx, device2, 'after a callback with a tampered state');
  },
});
