/**
 * Attacks on the browser side of sign-in (SESSION-6 … SESSION-9): cross-site approval, forged anti-forgery tokens,
 * approval from another browser, a callback carried to another browser, replayed callbacks, brute-forced user
 * codes, and forged ID tokens (altered, `alg: none`, another key, the IdP's own key with wrong claims).
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Browser, createBrowser, type Page } from '../../conformance/src/browser/index.ts';
import type { MockIdpUser } from '../../conformance/src/mocks/idp/index.ts';
import {
  type Harness,
  outcome,
  signInWithBrowser,
  startHarness,
  TEST_IP_HEADER,
  toCallback,
} from './signin-helpers.ts';

let h: Harness;
let alice: MockIdpUser;

beforeAll(async () => {
  h = await startHarness({ seed: 777 });
  alice = h.idp.createUser({ groups: ['engineering'] });
});
afterAll(() => h.close());
beforeEach(() => {
  for (const l of Object.values(h.pages.limiters)) l.clear();
  h.setIdpFetch(undefined);
});

function csrfOf(page: Page): string {
  const value = page.forms.find((f) => f.id === 'verify')?.fields.find((f) => f.name === 'csrf')?.value;
  if (!value) throw new Error('no csrf field');
  return value;
}

async function expectUntouched(userCode: string): Promise<void> {
  expect(await h.devices.findByUserCode(userCode)).toMatchObject({ status: 'pending', browserBound: false });
}

describe('cross-site approval', () => {
  it.each([
    ['a page on another site', 'http://evil.example/phish', {}],
    ['a page of the same site on another port (the IdP origin)', 'IDP', {}],
    [
      'a request with a foreign Origin and forged Sec-Fetch-Site',
      'http://evil.example/',
      { 'sec-fetch-site': 'same-origin' },
    ],
    ['an opaque (null) Origin', 'http://evil.example/', { 'sec-fetch-site': 'same-origin', origin: 'null' }],
  ])('refuses a form posted from %s: 403 cross_site', async (_name, initiator, headers) => {
    const device = await h.startDevice();
    const victim = createBrowser();
    // The victim has visited the page before (cookie set); the attacker even knows a valid token for it.
    const token = csrfOf(await victim.get(`${h.url}/device`));
    h.idp.clearLog();
    const page = await victim.post(
      `${h.url}/device`,
      { user_code: device.userCode, action: 'approve', csrf: token },
      { initiator: initiator === 'IDP' ? `${h.idp.origin}/x` : initiator, headers },
    );
    expect(page.status).toBe(403);
    expect(outcome(page).error).toBe('cross_site');
    expect(h.idp.requests).toHaveLength(0);
    await expectUntouched(device.userCode);
  });

  it('refuses a cross-site Deny too (no denial of service by a third-party page)', async () => {
    const device = await h.startDevice();
    const victim = createBrowser();
    const token = csrfOf(await victim.get(`${h.url}/device`));
    const page = await victim.post(
      `${h.url}/device`,
      { user_code: device.userCode, action: 'deny', csrf: token },
      { initiator: 'http://evil.example/' },
    );
    expect(page.status).toBe(403);
    await expectUntouched(device.userCode);
  });

  it.each([
    ['no token', (_own: string, _other: string) => null],
    ['an empty token', () => ''],
    ['the token of another browser', (_own: string, other: string) => other],
    ['a garbled token', (own: string) => `${own.slice(0, -4)}AAAA`],
    ['two tokens', (own: string) => [own, own]],
  ])('refuses a same-origin post with %s: 403 csrf', async (_name, pick) => {
    const device = await h.startDevice();
    const victim = createBrowser();
    const attacker = createBrowser();
    const form = await victim.get(`${h.url}/device`);
    const own = csrfOf(form);
    const other = csrfOf(await attacker.get(`${h.url}/device`));
    const page = await victim.post(
      `${h.url}/device`,
      { user_code: device.userCode, action: 'approve', csrf: pick(own, other) },
      { initiator: form },
    );
    expect(page.status).toBe(403);
    expect(outcome(page).error).toBe('csrf');
    await expectUntouched(device.userCode);
  });

  it('refuses a post from a browser without the CSRF cookie, and gives it one so a reload works', async () => {
    const device = await h.startDevice();
    const donor = createBrowser();
    const token = csrfOf(await donor.get(`${h.url}/device`));
    const fresh = createBrowser();
    const page = await fresh.post(
      `${h.url}/device`,
      { user_code: device.userCode, action: 'approve', csrf: token },
      { initiator: h.url },
    );
    expect(page.status).toBe(403);
    expect(outcome(page).error).toBe('csrf');
    expect((await fresh.cookies(h.url)).map((c) => c.name)).toContain('ocg_csrf');
    await expectUntouched(device.userCode);
  });
});

describe('one browser per sign-in', () => {
  it('a second browser cannot continue or deny a code another browser is signing in with: 403 other_browser', async () => {
    const device = await h.startDevice();
    const first = createBrowser();
    const { callback } = await toCallback(h, first, device.userCode, alice);
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ browserBound: true });

    const second = createBrowser();
    for (const submitter of [0, 1]) {
      const form = await second.get(`${h.url}/device?user_code=${device.userCode}`);
      const page = await second.submitForm(form, 'form#verify', {}, { submitter, followRedirects: false });
      expect(page.status).toBe(403);
      expect(outcome(page).error).toBe('other_browser');
    }
    // The first browser still completes.
    const result = await first.get(callback.location as string, { initiator: callback.url });
    expect(outcome(result).outcome).toBe('approved');
  });

  it('the same browser is recognised across a double submit and a second tab (no false other_browser)', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    // A second request that does not carry the first one's flow cookie yet: the same CSRF cookie, nothing else.
    const twin = createBrowser();
    for (const c of await browser.cookies(h.url)) await twin.setCookie(`${c.name}=${c.value}; Path=/`, h.url);
    const first = await browser.submitForm(form, 'form#verify', {}, { submitter: 0, followRedirects: false });
    const second = await twin.submitForm(form, 'form#verify', {}, { submitter: 0, followRedirects: false });
    expect([first.status, second.status]).toEqual([303, 303]);
    // The second one's flow is the live one in that tab; it completes.
    const login = await twin.get(second.location as string, {
      initiator: h.url,
      stopAt: (u) => u.href.startsWith(`${h.url}/oauth/callback`),
    });
    const callback = await twin.submitForm(
      login,
      'form#login',
      { login: alice.email, password: alice.password },
      { stopAt: (u) => u.href.startsWith(`${h.url}/oauth/callback`) },
    );
    const result = await twin.get(callback.location as string, { initiator: callback.url });
    expect(outcome(result).outcome).toBe('approved');
  });

  it('the IdP answer carried to another browser approves nothing (no_flow / state_mismatch)', async () => {
    const device = await h.startDevice();
    const first = createBrowser();
    const { callback } = await toCallback(h, first, device.userCode, alice);
    const stolen = callback.location as string;

    const bare = createBrowser();
    const p1 = await bare.get(stolen, { initiator: h.idp.origin });
    expect(p1.status).toBe(400);
    expect(outcome(p1).error).toBe('no_flow');

    // A browser with its own sign-in in progress (another code): the state does not match.
    const other = await h.startDevice();
    const busy = createBrowser();
    await toCallback(h, busy, other.userCode, alice);
    const p2 = await busy.get(stolen, { initiator: h.idp.origin });
    expect(p2.status).toBe(400);
    expect(outcome(p2).error).toBe('state_mismatch');

    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
    // The rightful browser's callback still works afterwards.
    const result = await first.get(stolen, { initiator: callback.url });
    expect(outcome(result).outcome).toBe('approved');
  });

  it('a forged state leaves the real sign-in intact', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, alice);
    const forged = new URL(callback.location as string);
    forged.searchParams.set('state', 'A'.repeat(43));
    const page = await browser.get(forged.href, { initiator: h.idp.origin });
    expect(page.status).toBe(400);
    expect(outcome(page).error).toBe('state_mismatch');
    const result = await browser.get(callback.location as string, { initiator: callback.url });
    expect(outcome(result).outcome).toBe('approved');
  });
});

describe('replayed callbacks', () => {
  it('after success: the same URL in the same browser approves nothing more (no_flow), and with a copied cookie jar it is code_used', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, alice);
    const saved = (await browser.cookies(h.url)).map((c) => `${c.name}=${c.value}; Path=/`);
    const result = await browser.get(callback.location as string, { initiator: callback.url });
    expect(outcome(result).outcome).toBe('approved');

    const replay = await browser.get(callback.location as string, { initiator: callback.url });
    expect(replay.status).toBe(400);
    expect(outcome(replay).error).toBe('no_flow');

    const copy = createBrowser();
    for (const c of saved) await copy.setCookie(c, h.url);
    const replay2 = await copy.get(callback.location as string, { initiator: callback.url });
    expect(replay2.status).toBe(409);
    expect(outcome(replay2).error).toBe('code_used');

    expect(await h.devices.pollDeviceAuthorization(device.deviceCode)).toMatchObject({ status: 'approved' });
    expect(await h.devices.pollDeviceAuthorization(device.deviceCode, Date.now() + 10_000)).toEqual({
      status: 'invalid_grant',
    });
  });

  it('after a refusal: the callback spent its state, so replaying it is a state_mismatch', async () => {
    const unverified = h.idp.createUser({ emailVerified: false });
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, unverified);
    const first = await browser.get(callback.location as string, { initiator: callback.url });
    expect(outcome(first).error).toBe('email_not_verified');
    const replay = await browser.get(callback.location as string, { initiator: callback.url });
    expect(replay.status).toBe(400);
    expect(outcome(replay).error).toBe('state_mismatch');
  });
});

describe('brute force of user codes', () => {
  async function guess(browser: Browser, form: Page, code: string, ip: string): Promise<Page> {
    return browser.post(
      `${h.url}/device`,
      { user_code: code, action: 'approve', csrf: csrfOf(form) },
      { initiator: form, headers: { [TEST_IP_HEADER]: ip }, followRedirects: false },
    );
  }

  it('the verification page is no oracle: a pre-filled code is not looked up', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const known = await browser.get(`${h.url}/device?user_code=${device.userCode}`);
    const unknown = await browser.get(`${h.url}/device?user_code=BCDF-GHJK`);
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    const strip = (p: Page) => p.html.replace(/value="[^"]*"/g, '').replace(/[B-Z]{4}-[B-Z]{4}/g, '');
    expect(strip(known)).toBe(strip(unknown));
  });

  it('after 10 failed codes from one address, that address is refused (429, Retry-After) even with a right code', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device`);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await guess(browser, form, `BCDF-GH${'JKLMNPQRST'[i]}K`, '198.51.100.1')).status);
    expect(statuses).toEqual(Array(10).fill(404));
    const blocked = await guess(browser, form, device.userCode, '198.51.100.1');
    expect(blocked.status).toBe(429);
    expect(outcome(blocked).error).toBe('rate_limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(500);
    await expectUntouched(device.userCode);
    // Another address is not affected.
    const elsewhere = await guess(browser, form, device.userCode, '198.51.100.2');
    expect(elsewhere.status).toBe(303);
  });

  it('malformed, expired and used codes count as failures too', async () => {
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device`);
    for (let i = 0; i < 10; i++)
      expect((await guess(browser, form, 'AAAA-AAAA', '198.51.100.3')).status).toBe(400);
    expect((await guess(browser, form, 'AAAA-AAAA', '198.51.100.3')).status).toBe(429);
  });

  it('after 30 posts from one address it is refused, whatever they were', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device`);
    for (let i = 0; i < 30; i++) {
      const page = await guess(browser, form, device.userCode, '198.51.100.4');
      expect(page.status).not.toBe(429);
      if (i === 9) h.pages.limiters.perCode.clear(); // isolate the per-address rule
      if (i === 19) h.pages.limiters.perCode.clear();
    }
    expect((await guess(browser, form, device.userCode, '198.51.100.4')).status).toBe(429);
  });

  it('one code is tried at most 10 times, from any number of addresses', async () => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const form = await browser.get(`${h.url}/device`);
    for (let i = 0; i < 10; i++) {
      expect((await guess(browser, form, device.userCode, `203.0.113.${i}`)).status).toBe(303);
    }
    const page = await guess(browser, form, device.userCode, '203.0.113.200');
    expect(page.status).toBe(429);
    expect(outcome(page).error).toBe('rate_limited');
  });
});

describe('forged ID tokens', () => {
  type Forge = (idToken: string) => Promise<string>;

  async function idpKey(alg: 'RS256' | 'ES256') {
    const jwk = h.idp.signingKeys.find((k) => k.alg === alg);
    if (!jwk) throw new Error(`no ${alg} key`);
    return { key: await importJWK(jwk, alg), kid: jwk.kid as string };
  }
  const resign =
    (change: (p: JWTPayload) => JWTPayload): Forge =>
    async (idToken) => {
      const { key, kid } = await idpKey('RS256');
      return new SignJWT(change(decodeJwt(idToken)))
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .sign(key);
    };
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

  const forgeries: Array<[string, Forge, string]> = [
    [
      'a payload altered under the original signature',
      async (t) => {
        const [head, , sig] = t.split('.');
        return `${head}.${b64({ ...decodeJwt(t), email: 'ceo@example.test' })}.${sig}`;
      },
      'signature verification failed',
    ],
    [
      'alg: none',
      async (t) => `${b64({ alg: 'none', typ: 'JWT' })}.${t.split('.')[1]}.`,
      'unexpected JWT "alg"',
    ],
    [
      'a signature by another key under the IdP key id',
      async (t) => {
        const { privateKey } = await generateKeyPair('RS256');
        const { kid } = decodeProtectedHeader(t);
        return new SignJWT({ ...decodeJwt(t), email: 'ceo@example.test' })
          .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
          .sign(privateKey);
      },
      'signature verification failed',
    ],
    [
      'HS256 keyed with the IdP public key',
      async (t) => {
        const pub = JSON.stringify(h.idp.jwks.keys[0]);
        return new SignJWT(decodeJwt(t))
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(pub));
      },
      'unexpected JWT "alg"',
    ],
    ['the IdP key, but another nonce', resign((p) => ({ ...p, nonce: 'attacker-nonce' })), '"nonce"'],
    ['the IdP key, but another audience', resign((p) => ({ ...p, aud: 'someone-else' })), '"aud"'],
    ['the IdP key, but another issuer', resign((p) => ({ ...p, iss: 'https://evil.example' })), '"iss"'],
    [
      'the IdP key, but expired an hour ago',
      resign((p) => ({
        ...p,
        iat: Math.floor(Date.now() / 1000) - 7200,
        exp: Math.floor(Date.now() / 1000) - 3600,
      })),
      '"exp"',
    ],
  ];

  function tamperTokenResponse(forge: Forge) {
    return async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (!url.endsWith('/token') || !response.ok) return response;
      const body = (await response.json()) as Record<string, unknown>;
      body.id_token = await forge(body.id_token as string);
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
  }

  it.each(forgeries)('refuses %s: 502 id_token_invalid, nothing approved', async (_name, forge, why) => {
    const device = await h.startDevice();
    const browser = createBrowser();
    const { callback } = await toCallback(h, browser, device.userCode, alice);
    h.setIdpFetch(tamperTokenResponse(forge));
    const result = await browser.get(callback.location as string, { initiator: callback.url });
    expect(result.status, result.html).toBe(502);
    expect(outcome(result).error).toBe('id_token_invalid');
    expect(result.document.querySelector('#detail')?.text).toContain(why);
    expect(await h.devices.findByUserCode(device.userCode)).toMatchObject({ status: 'pending' });
  });

  it('control: the same hook re-signing correctly with the IdP key is accepted (the checks above are real)', async () => {
    const device = await h.startDevice();
    h.setIdpFetch(tamperTokenResponse(resign((p) => ({ ...p, name: 'Re-signed' }))));
    const { result } = await signInWithBrowser(h, device.userCode, alice);
    expect(outcome(result).outcome).toBe('approved');
    const poll = await h.devices.pollDeviceAuthorization(device.deviceCode);
    if (poll.status !== 'approved') throw new Error(poll.status);
    expect((await h.sessions.getSession(poll.sessionId))?.name).toBe('Re-signed');
  });
});
