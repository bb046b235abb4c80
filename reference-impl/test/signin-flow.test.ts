/**
 * The browser side of sign-in, driven as a browser would (the kit's browser: cookies, redirects, forms, Fetch
 * Metadata) against the kit's mock IdP (oidc-provider): the verification page, the redirect to the IdP with PKCE,
 * state and nonce, the callback, claim mapping, and a page with its own status for every failure.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowser } from '../../conformance/src/browser/index.ts';
import type { MockIdp, MockIdpUser } from '../../conformance/src/mocks/idp/index.ts';
import { type Harness, outcome, signInWithBrowser, startHarness, toCallback } from './signin-helpers.ts';

let h: Harness;
let alice: MockIdpUser;

beforeAll(async () => {
  h = await startHarness();
  alice = h.idp.createUser({ groups: ['engineering', 'admins'] });
});
afterAll(() => h.close());
beforeEach(() => {
  for (const l of Object.values(h.pages.limiters)) l.clear();
});

describe('verification page (GET /device)', () => {
  it('pre-fills and shows ?user_code= for confirmation, and submits nothing by itself', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    h.idp.clearLog();
    const page = await browser.get(
      `${h.url}/device?user_code=${device.userCode.toLowerCase().replace('-', '')}`,
    );
    expect(page.status).toBe(200);
    expect(outcome(page)).toEqual({ page: 'verify', outcome: 'form' });
    expect(page.document.querySelector('#user-code-display')?.text).toBe(device.userCode);
    const form = page.forms.find((f) => f.id === 'verify');
    expect(form?.method).toBe('POST');
    expect(form?.action).toBe(`${h.url}/device`);
    expect(form?.fields.find((f) => f.name === 'user_code')?.value).toBe(device.userCode);
    expect(form?.submitters.map((s) => s.value)).toEqual(['approve', 'deny']);
    // No script, no refresh, no auto-submit; nothing reached the IdP and the code is untouched.
    expect(page.html).not.toMatch(/<script|http-equiv|onload|autofocus/i);
    expect(h.idp.requests).toHaveLength(0);
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({
      status: 'pending',
      browserBound: false,
    });
  });

  it('shows an empty form without a code, and sets a CSRF cookie that is HttpOnly, Lax, Path=/', async () => {
    const browser = createBrowser();
    const page = await browser.get(`${h.url}/device`);
    expect(page.status).toBe(200);
    expect(page.document.querySelector('#user-code-display')).toBeNull();
    const setCookie = page.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^ocg_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    // A second visit keeps the same cookie.
    const again = await browser.get(`${h.url}/device`);
    expect(again.headers.getSetCookie()).toHaveLength(0);
  });
});

describe('a complete sign-in', () => {
  it('approves the device code for a pending session holding the IdP refresh token', async () => {
    const device = await h.startDevice();
    const { result, steps, browser } = await signInWithBrowser(h, device.userCode, alice);
    expect(result.status, result.html).toBe(200);
    expect(outcome(result)).toEqual({ page: 'result', outcome: 'approved' });
    expect(result.document.querySelector('#signed-in-as')?.text).toBe(alice.email);
    expect(result.html).toContain('Return to your terminal');

    // The redirect to the IdP: code flow, PKCE S256, state, nonce, the configured scopes and redirect URI.
    const toIdp = steps.idpLogin.redirects[0];
    expect(toIdp?.status).toBe(303);
    const authz = new URL(toIdp?.location as string);
    expect(authz.origin).toBe(h.idp.origin);
    expect(Object.fromEntries(authz.searchParams)).toMatchObject({
      client_id: h.client.clientId,
      response_type: 'code',
      redirect_uri: `${h.url}/oauth/callback`,
      scope: 'openid email profile groups offline_access',
      code_challenge_method: 'S256',
    });
    for (const p of ['state', 'nonce', 'code_challenge']) {
      expect(authz.searchParams.get(p)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    }

    // The device code is approved exactly once, for a session with the user's identity.
    const poll = await h.devices.pollDeviceAuthorization(device.deviceCode);
    expect(poll).toMatchObject({ status: 'approved', subject: alice.subject });
    if (poll.status !== 'approved') throw new Error('unreachable');
    const session = await h.sessions.getSession(poll.sessionId);
    expect(session).toMatchObject({
      subject: alice.subject,
      email: alice.email,
      name: alice.name,
      groups: ['engineering', 'admins'],
      idpIssuer: h.idp.issuer,
      idpSubject: alice.subject,
    });
    expect(await h.sessions.getIdpRefreshToken(poll.sessionId)).toMatch(/.{20,}/);
    // The flow cookie is gone from the browser.
    // (The mock IdP's `_idp_*` cookies share the host: browsers do not isolate cookies by port.)
    const ours = (await browser.cookies(h.url)).map((c) => c.name).filter((n) => !n.startsWith('_idp_'));
    expect(ours).toEqual(['ocg_csrf']);
  });

  it('binds the flow with a short-lived ocg_device cookie (HttpOnly, Lax, Path=/) holding no readable secret', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const redirect = await browser.submitForm(
      form,
      'form#verify',
      {},
      { submitter: 0, followRedirects: false },
    );
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    const [cookie] = redirect.headers.getSetCookie();
    expect(cookie).toMatch(
      /^ocg_device=[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=(\d+)$/,
    );
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie as string)?.[1]);
    expect(maxAge).toBeGreaterThan(device.expiresIn);
    expect(maxAge).toBeLessThanOrEqual(device.expiresIn + 300);
    const state = new URL(redirect.location as string).searchParams.get('state') as string;
    expect(cookie).not.toContain(state);
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({
      status: 'pending',
      browserBound: true,
    });
  });
});

describe('codes that cannot be used', () => {
  async function submit(code: string, browser = createBrowser()) {
    const form = await browser.get(`${h.url}/device`);
    return browser.submitForm(
      form,
      'form#verify',
      { user_code: code },
      { submitter: 0, followRedirects: false },
    );
  }

  it('a malformed code re-shows the form: 400 invalid_code, what was typed kept', async () => {
    const page = await submit('AEIO-1234');
    expect(page.status).toBe(400);
    expect(outcome(page)).toEqual({ page: 'verify', outcome: 'error', error: 'invalid_code' });
    expect(page.forms.find((f) => f.id === 'verify')?.fields.find((f) => f.name === 'user_code')?.value).toBe(
      'AEIO-1234',
    );
  });

  it('an unknown code re-shows the form: 404 unknown_code', async () => {
    const page = await submit('BCDF-GHJK');
    expect(page.status).toBe(404);
    expect(outcome(page)).toEqual({ page: 'verify', outcome: 'error', error: 'unknown_code' });
  });

  it('an expired code: 410 expired_code', async () => {
    const device = await h.startDevice();
    h.advance(device.expiresIn * 1000 + 1);
    try {
      const page = await submit(device.userCode);
      expect(page.status).toBe(410);
      expect(outcome(page)).toMatchObject({ outcome: 'error', error: 'expired_code' });
      expect(page.html).toContain('Start the sign-in again in your terminal');
    } finally {
      h.advance(-(device.expiresIn * 1000 + 1));
    }
  });

  it('a used code: 409 code_used (also in the browser that used it)', async () => {
    const device = await h.startDevice();
    const { browser } = await signInWithBrowser(h, device.userCode, alice);
    for (const b of [browser, createBrowser()]) {
      const page = await submit(device.userCode, b);
      expect(page.status).toBe(409);
      expect(outcome(page).error).toBe('code_used');
    }
    await h.devices.pollDeviceAuthorization(device.deviceCode); // consumed
    expect((await submit(device.userCode)).status).toBe(409);
  });

  it('Deny denies the code (the client gets access_denied); the code cannot be used afterwards: 409 code_denied', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const denied = await browser.submitForm(form, 'form#verify', {}, { submitter: 1 });
    expect(denied.status).toBe(200);
    expect(outcome(denied)).toEqual({ page: 'result', outcome: 'denied' });
    expect(await h.devices.pollDeviceAuthorization(device.deviceCode)).toEqual({ status: 'denied' });
    const again = await submit(device.userCode, browser);
    expect(again.status).toBe(409);
    expect(outcome(again).error).toBe('code_denied');
  });

  it('a code whose window closed while the user was at the IdP is not approved: 410 expired_code', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, alice);
    h.advance(device.expiresIn * 1000 + 1);
    try {
      const result = await browser.get(callback.location as string, { initiator: callback.url });
      expect(result.status).toBe(410);
      expect(outcome(result).error).toBe('expired_code');
    } finally {
      h.advance(-(device.expiresIn * 1000 + 1));
    }
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
  });
});

describe('sign-in at the IdP that does not succeed', () => {
  it('cancelled at the IdP: 403 idp_denied, with Try again and a Deny form that works', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const stopAt = (u: URL) => u.href.startsWith(`${h.url}/oauth/callback`);
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const login = await browser.submitForm(form, 'form#verify', {}, { submitter: 0, stopAt });
    const aborted = await browser.submitForm(login, 'form#abort', {});
    expect(aborted.url.startsWith(`${h.url}/oauth/callback?`)).toBe(true);
    expect(aborted.status).toBe(403);
    expect(outcome(aborted)).toEqual({ page: 'result', outcome: 'error', error: 'idp_denied' });
    expect(aborted.document.querySelector('#detail')?.text).toContain('access_denied');
    expect(aborted.document.querySelector('a#retry')?.getAttribute('href')).toBe(
      `${h.url}/device?user_code=${device.userCode}`,
    );
    // Still pending: the user may try again, or deny from here.
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
    const denied = await browser.submitForm(aborted, 'form#deny', {});
    expect(outcome(denied)).toEqual({ page: 'result', outcome: 'denied' });
    expect(await h.devices.pollDeviceAuthorization(device.deviceCode)).toEqual({ status: 'denied' });
  });

  it('cancelled, then tried again in the same browser: signs in', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const stopAt = (u: URL) => u.href.startsWith(`${h.url}/oauth/callback`);
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const login = await browser.submitForm(form, 'form#verify', {}, { submitter: 0, stopAt });
    const aborted = await browser.submitForm(login, 'form#abort', {});
    expect(outcome(aborted).error).toBe('idp_denied');
    const { result } = await signInWithBrowser(h, device.userCode, alice, browser);
    expect(outcome(result).outcome).toBe('approved');
  });

  it('an IdP error other than a refusal: 502 idp_error naming the error', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const redirect = await browser.submitForm(
      form,
      'form#verify',
      {},
      { submitter: 0, followRedirects: false },
    );
    const state = new URL(redirect.location as string).searchParams.get('state') as string;
    const page = await browser.get(
      `${h.url}/oauth/callback?error=server_error&error_description=${encodeURIComponent('<b>boom</b>')}&state=${state}`,
      { initiator: h.idp.origin },
    );
    expect(page.status).toBe(502);
    expect(outcome(page).error).toBe('idp_error');
    expect(page.document.querySelector('#detail')?.text).toBe('server_error: <b>boom</b>');
    expect(page.html).not.toContain('<b>boom</b>');
  });

  it('the IdP cannot be reached for the code exchange: 502 idp_unavailable', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, alice);
    h.setIdpFetch(async () => {
      throw new TypeError('fetch failed');
    });
    try {
      const result = await browser.get(callback.location as string, { initiator: callback.url });
      expect(result.status).toBe(502);
      expect(outcome(result).error).toBe('idp_unavailable');
    } finally {
      h.setIdpFetch(undefined);
    }
  });

  it('a user disabled at the IdP between login and callback: 403 user_disabled', async () => {
    const bob = h.idp.createUser();
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, bob);
    h.idp.disableUser(bob.subject);
    const result = await browser.get(callback.location as string, { initiator: callback.url });
    expect(result.status, result.html).toBe(403);
    expect(outcome(result).error).toBe('user_disabled');
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
  });

  it('a callback in a browser with no sign-in in progress: 400 no_flow', async () => {
    const page = await createBrowser().get(`${h.url}/oauth/callback?code=abc&state=def`);
    expect(page.status).toBe(400);
    expect(outcome(page).error).toBe('no_flow');
  });
});

describe('claim rules', () => {
  let saved: Harness['oidc'];
  const reset = () => {
    for (const k of Object.keys(h.oidc)) delete (h.oidc as unknown as Record<string, unknown>)[k];
    Object.assign(h.oidc, saved, { claims: { ...saved.claims } });
  };
  beforeAll(() => {
    saved = structuredClone(h.oidc);
  });
  beforeEach(reset);
  afterAll(reset);

  type Case = [
    name: string,
    user: Parameters<MockIdp['createUser']>[0],
    rules: Partial<Harness['oidc']>,
    want: { status: number; error?: string; groups?: string[] },
  ];
  const cases: Case[] = [
    [
      'unverified email, verification required (default)',
      { emailVerified: false },
      {},
      { status: 403, error: 'email_not_verified' },
    ],
    [
      'unverified email, verification not required',
      { emailVerified: false },
      { requireEmailVerified: false },
      { status: 200 },
    ],
    [
      'email domain not allowed',
      { email: 'eve@elsewhere.test' },
      { allowedEmailDomains: ['corp.example'] },
      { status: 403, error: 'domain_not_allowed' },
    ],
    [
      'email domain allowed (case-insensitive)',
      { email: 'Dan@Corp.Example' },
      { allowedEmailDomains: ['corp.example'] },
      { status: 200 },
    ],
    [
      'a subdomain is another domain',
      { email: 'dan@eu.corp.example' },
      { allowedEmailDomains: ['corp.example'] },
      { status: 403, error: 'domain_not_allowed' },
    ],
    [
      'Google hd required, account has none',
      {},
      { hostedDomain: 'corp.example' },
      { status: 403, error: 'hosted_domain_mismatch' },
    ],
    [
      'Google hd required, another organisation',
      { hd: 'other.example' },
      { hostedDomain: 'corp.example' },
      { status: 403, error: 'hosted_domain_mismatch' },
    ],
    [
      'Google hd required and matching',
      { hd: 'corp.example' },
      { hostedDomain: 'corp.example' },
      { status: 200 },
    ],
    [
      'Entra group overage, deny (default)',
      { groupsOverage: true, groups: ['g1'] },
      {},
      { status: 403, error: 'groups_overage' },
    ],
    [
      'Entra group overage, no_groups',
      { groupsOverage: true, groups: ['g1'] },
      { groupsOverage: 'no_groups' },
      { status: 200, groups: [] },
    ],
    [
      'groups from another claim name',
      { groups: ['g2'] },
      { claims: { email: 'email', name: 'name', groups: 'roles' } },
      { status: 200, groups: [] },
    ],
  ];
  it.each(cases)('%s', async (_name, input, rules, want) => {
    Object.assign(h.oidc, rules);
    const user = h.idp.createUser(input);
    const device = await h.startDevice();
    const { result } = await signInWithBrowser(h, device.userCode, user);
    expect(result.status, result.html).toBe(want.status);
    if (want.error) {
      expect(outcome(result)).toEqual({ page: 'result', outcome: 'error', error: want.error });
      expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
      return;
    }
    expect(outcome(result).outcome).toBe('approved');
    const poll = await h.devices.pollDeviceAuthorization(device.deviceCode);
    if (poll.status !== 'approved') throw new Error(`expected approved, got ${poll.status}`);
    const session = await h.sessions.getSession(poll.sessionId);
    expect(session?.subject).toBe(user.subject);
    if (want.groups) expect(session?.groups).toEqual(want.groups);
  });

  it('logs an overage signed in with no groups', async () => {
    Object.assign(h.oidc, { groupsOverage: 'no_groups' });
    const user = h.idp.createUser({ groupsOverage: true });
    const device = await h.startDevice();
    await signInWithBrowser(h, device.userCode, user);
    expect(
      h.log.records().some((r) => String(r.msg).includes('group overage') && r.subject === user.subject),
    ).toBe(true);
  });
});

describe('sign-in not configured', () => {
  it('answers 503 not_configured on all three pages', async () => {
    const bare = await startHarness({ noOidc: true, seed: 99 });
    try {
      const browser = createBrowser();
      const pages = [
        await browser.get(`${bare.url}/device`),
        await browser.post(
          `${bare.url}/device`,
          { user_code: 'BCDF-GHJK', action: 'approve', csrf: 'x' },
          { initiator: bare.url },
        ),
        await browser.get(`${bare.url}/oauth/callback?code=x&state=y`),
      ];
      for (const page of pages) {
        expect(page.status).toBe(503);
        expect(outcome(page).error).toBe('not_configured');
      }
    } finally {
      await bare.close();
    }
  });
});

describe('secrets stay out of the log', () => {
  it('logs no user code, cookie, state, authorization code or IdP token', async () => {
    h.log.lines.length = 0;
    const device = await h.startDevice();
    const { result, steps, browser } = await signInWithBrowser(h, device.userCode, alice);
    expect(outcome(result).outcome).toBe('approved');
    const callback = new URL(steps.callback.location as string);
    const poll = await h.devices.pollDeviceAuthorization(device.deviceCode);
    if (poll.status !== 'approved') throw new Error(poll.status);
    const secrets = [
      device.userCode,
      device.userCode.replace('-', ''),
      callback.searchParams.get('code') as string,
      callback.searchParams.get('state') as string,
      (await h.sessions.getIdpRefreshToken(poll.sessionId)) as string,
      ...(await browser.cookies(h.url)).map((c) => c.value),
      ...steps.form.forms.flatMap((f) => f.fields.filter((x) => x.name === 'csrf').map((x) => x.value)),
    ];
    const text = h.log.lines.join('\n');
    expect(h.log.lines.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(7);
      expect(text).not.toContain(secret);
    }
  });
});

describe('incomplete forms, an IdP down at the start, unexpected failures', () => {
  it.each([
    ['no action', { user_code: 'BCDF-GHJK' }],
    ['an unknown action', { user_code: 'BCDF-GHJK', action: 'approve-all' }],
    ['a repeated user_code', { user_code: ['BCDF-GHJK', 'BCDF-GHJL'], action: 'approve' }],
    ['no user_code', { action: 'approve' }],
  ])('%s: 400 bad_request', async (_name, fields) => {
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device`);
    const csrf = form.forms[0]?.fields.find((f) => f.name === 'csrf')?.value as string;
    const page = await browser.post(`${h.url}/device`, { ...fields, csrf }, { initiator: form });
    expect(page.status).toBe(400);
    expect(outcome(page).error).toBe('bad_request');
  });

  it('the IdP unreachable when the user continues: 502 idp_unavailable; discovery is retried on the next attempt', async () => {
    const down = await startHarness({
      seed: 5,
      idpFetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    try {
      const user = down.idp.createUser();
      const device = await down.startDevice();
      const browser = createBrowser();
      const form = await browser.get(`${down.url}/device?user_code=${device.userCode}`);
      const page = await browser.submitForm(form, 'form#verify', {}, { submitter: 0 });
      expect(page.status).toBe(502);
      expect(outcome(page).error).toBe('idp_unavailable');
      expect(page.document.querySelector('a#retry')?.getAttribute('href')).toBe(
        `${down.url}/device?user_code=${device.userCode}`,
      );
      down.setIdpFetch(undefined);
      const { result } = await signInWithBrowser(down, device.userCode, user, browser);
      expect(outcome(result).outcome).toBe('approved');
    } finally {
      await down.close();
    }
  });

  it('an unexpected failure is a 500 page, logged, not a crash or a stack trace', async () => {
    const broken = await startHarness({
      seed: 6,
      wrapDevices: (d) => ({
        ...d,
        findByUserCode: async () => {
          throw new Error('database on fire');
        },
      }),
    });
    try {
      const browser = createBrowser();
      const form = await browser.get(`${broken.url}/device`);
      const page = await browser.submitForm(
        form,
        'form#verify',
        { user_code: 'BCDF-GHJK' },
        { submitter: 0 },
      );
      expect(page.status).toBe(500);
      expect(outcome(page).error).toBe('internal');
      expect(page.html).not.toContain('database on fire');
      expect(broken.log.records().some((r) => r.msg === 'sign-in page failed')).toBe(true);
    } finally {
      await broken.close();
    }
  });
});
