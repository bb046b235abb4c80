/**
 * The mock OpenID Provider, driven as a relying party would drive a real one: openid-client v6 for discovery,
 * PKCE/state/nonce, the code grant, userinfo and refresh; the kit's browser for the sign-in page. Covers the
 * controls (groups, disable/enable, delete) and the provider quirks (Entra overage, Google `hd`, unverified email).
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, createBrowser, type Page } from '../src/browser/index.ts';
import { ConformanceError } from '../src/errors.ts';
import {
  type MockIdp,
  type MockIdpClient,
  type MockIdpUser,
  type MockIdpUserInput,
  startMockIdp,
} from '../src/mocks/idp/index.ts';

const REDIRECT_URI = 'http://127.0.0.1:53682/callback';
const SCOPE = 'openid email profile groups offline_access';

async function rpConfig(idp: MockIdp, client: MockIdpClient): Promise<oidc.Configuration> {
  const auth =
    client.tokenEndpointAuthMethod === 'none'
      ? oidc.None()
      : client.tokenEndpointAuthMethod === 'client_secret_basic'
        ? oidc.ClientSecretBasic(client.clientSecret)
        : oidc.ClientSecretPost(client.clientSecret);
  const config = await oidc.discovery(new URL(idp.issuer), client.clientId, undefined, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  // Verify ID token signatures against the JWKS too (openid-client skips that by default over TLS).
  oidc.enableNonRepudiationChecks(config);
  return config;
}

interface Started {
  verifier: string;
  state: string;
  nonce: string;
  page: Page;
}

async function startLogin(browser: Browser, config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const page = await browser.get(url, { stopAt: (u) => u.href.startsWith(REDIRECT_URI) });
  return { verifier, state, nonce, page } satisfies Started;
}

function submitLogin(browser: Browser, page: Page, login: string, password: string): Promise<Page> {
  return browser.submitForm(
    page,
    'form#login',
    { login, password },
    {
      stopAt: (u) => u.href.startsWith(REDIRECT_URI),
    },
  );
}

async function finish(config: oidc.Configuration, started: Started, callback: Page) {
  expect(callback.location, callback.html).toMatch(/^http:\/\/127\.0\.0\.1:53682\/callback\?/);
  return oidc.authorizationCodeGrant(config, new URL(callback.location as string), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
    idTokenExpected: true,
  });
}

/** A full sign-in of `user` with a fresh browser; returns the token response. */
async function signIn(
  idp: MockIdp,
  config: oidc.Configuration,
  user: MockIdpUser,
  browser = createBrowser(),
) {
  const started = await startLogin(browser, config);
  expect(started.page.status).toBe(200);
  expect(started.page.url.startsWith(`${idp.issuer}/interaction/`)).toBe(true);
  const callback = await submitLogin(browser, started.page, user.email, user.password);
  return finish(config, started, callback);
}

async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof oidc.ResponseBodyError) return err.error;
    if (err instanceof oidc.WWWAuthenticateChallengeError) return `challenge:${err.status}`;
    throw err;
  }
  throw new Error('expected an OAuth error');
}

let idp: MockIdp;
let client: MockIdpClient;
let config: oidc.Configuration;

beforeAll(async () => {
  idp = await startMockIdp({ seed: 1234 });
  client = await idp.registerClient({ redirectUris: [REDIRECT_URI] });
  config = await rpConfig(idp, client);
});
afterAll(() => idp.close());

describe('mock IdP: discovery and keys', () => {
  it('publishes discovery and a JWKS with fresh RS256 and ES256 keys', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'email', 'profile', 'groups', 'offline_access']),
    );
    expect(meta.claims_supported).toEqual(
      expect.arrayContaining(['sub', 'email', 'email_verified', 'name', 'groups', 'hd']),
    );
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    );
    expect(meta.response_types_supported).toEqual(['code']);
    const jwks = (await (await fetch(meta.jwks_uri as string)).json()) as {
      keys: Array<Record<string, string>>;
    };
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(idp.jwks.keys.map((k) => k.kid).sort());

    const again = await startMockIdp({ seed: 1234 });
    try {
      expect(again.jwks.keys.map((k) => k.kid)).not.toEqual(idp.jwks.keys.map((k) => k.kid));
    } finally {
      await again.close();
    }
  });

  it('draws users and clients from the seed: same seed, same users', async () => {
    const inputs: MockIdpUserInput[] = [{}, { groups: ['g'] }, { email: 'fixed@example.test' }];
    const [a, b, c] = await Promise.all([
      startMockIdp({ seed: 7 }),
      startMockIdp({ seed: 7 }),
      startMockIdp({ seed: 8 }),
    ]);
    try {
      const ua = inputs.map((i) => a.createUser(i));
      const ub = inputs.map((i) => b.createUser(i));
      const uc = inputs.map((i) => c.createUser(i));
      expect(ua).toEqual(ub);
      expect(ua[0]?.subject).not.toBe(uc[0]?.subject);
      expect(ua[0]?.password).toMatch(/^[A-Za-z0-9]{20}$/);
      expect(ua[0]?.email).toMatch(/^[a-z]+\.[a-z]+1@example\.test$/);
      expect(ua[2]?.email).toBe('fixed@example.test');
      const ca = await a.registerClient({ redirectUris: [REDIRECT_URI] });
      const cb = await b.registerClient({ redirectUris: [REDIRECT_URI] });
      expect(ca.clientId).toBe(cb.clientId);
      expect(ca.clientSecret).toBe(cb.clientSecret);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe('mock IdP: sign-in with openid-client', () => {
  it('signs a user in with code + PKCE + state + nonce; the ID token and userinfo carry email, name, groups', async () => {
    const user = idp.createUser({ groups: ['engineering', 'admins'] });
    const tokens = await signIn(idp, config, user);
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: client.clientId,
      sub: user.subject,
      email: user.email,
      email_verified: true,
      name: user.name,
      groups: ['engineering', 'admins'],
    });
    expect(claims?.hd).toBeUndefined();
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.subject);
    expect(info).toMatchObject({
      sub: user.subject,
      email: user.email,
      name: user.name,
      groups: ['engineering', 'admins'],
    });
    expect(idp.events.some((e) => e.type === 'login' && e.subject === user.subject)).toBe(true);
  });

  it.each([
    ['client_secret_basic', 'RS256'],
    ['none', 'ES256'],
  ] as const)('works for a %s client with %s ID tokens', async (method, alg) => {
    const c = await idp.registerClient({
      redirectUris: [REDIRECT_URI],
      tokenEndpointAuthMethod: method,
      idTokenSignedResponseAlg: alg,
    });
    expect(c.clientSecret === undefined).toBe(method === 'none');
    const cfg = await rpConfig(idp, c);
    const user = idp.createUser();
    const tokens = await signIn(idp, cfg, user);
    const header = JSON.parse(
      Buffer.from((tokens.id_token as string).split('.')[0] as string, 'base64url').toString(),
    );
    expect(header.alg).toBe(alg);
    expect(tokens.claims()?.sub).toBe(user.subject);
    const refreshed = await oidc.refreshTokenGrant(cfg, tokens.refresh_token as string);
    expect(refreshed.claims()?.sub).toBe(user.subject);
  });

  it('refreshes, rotating the refresh token; a reused one is invalid_grant', async () => {
    const user = idp.createUser({ groups: ['a'] });
    const tokens = await signIn(idp, config, user);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()).toMatchObject({ sub: user.subject, email: user.email, groups: ['a'] });
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token as string))).toBe(
      'invalid_grant',
    );
  });

  it('shows group changes in the next ID token and userinfo', async () => {
    const user = idp.createUser({ groups: ['before'] });
    const tokens = await signIn(idp, config, user);
    expect(tokens.claims()?.groups).toEqual(['before']);
    idp.setGroups(user.subject, ['after-1', 'after-2']);
    expect(idp.getUser(user.subject)?.groups).toEqual(['after-1', 'after-2']);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.claims()?.groups).toEqual(['after-1', 'after-2']);
    const info = await oidc.fetchUserInfo(config, refreshed.access_token, user.subject);
    expect(info.groups).toEqual(['after-1', 'after-2']);
    idp.setGroups(user.subject, []);
    const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token as string);
    expect(again.claims()?.groups).toEqual([]);
  });

  it('refuses a disabled user: refresh is invalid_grant, userinfo is refused, login is refused; enable restores', async () => {
    const user = idp.createUser();
    const tokens = await signIn(idp, config, user);
    idp.disableUser(user.subject);
    expect(idp.getUser(user.subject)?.disabled).toBe(true);
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token as string))).toBe(
      'invalid_grant',
    );
    expect(idp.events.at(-1)).toMatchObject({ type: 'token_refused', subject: user.subject });
    expect(await oauthError(oidc.fetchUserInfo(config, tokens.access_token, user.subject))).toBe(
      'challenge:401',
    );
    expect(idp.events.some((e) => e.type === 'userinfo_refused')).toBe(true);

    const browser = createBrowser();
    const started = await startLogin(browser, config);
    const refused = await submitLogin(browser, started.page, user.email, user.password);
    expect(refused.status).toBe(403);
    expect(refused.location).toBeUndefined();
    expect(refused.document.querySelector('#error')?.getAttribute('data-error')).toBe('account_disabled');

    idp.enableUser(user.subject);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.claims()?.sub).toBe(user.subject);
    // The refused page is a working form again: signing in from it now succeeds.
    const callback = await submitLogin(browser, refused, user.email, user.password);
    expect((await finish(config, started, callback)).claims()?.sub).toBe(user.subject);
  });

  it('refuses a deleted user everywhere', async () => {
    const user = idp.createUser();
    const tokens = await signIn(idp, config, user);
    idp.deleteUser(user.subject);
    expect(idp.getUser(user.subject)).toBeUndefined();
    expect(() => idp.setGroups(user.subject, [])).toThrow(ConformanceError);
    expect(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token as string))).toBe(
      'invalid_grant',
    );
    expect(await oauthError(oidc.fetchUserInfo(config, tokens.access_token, user.subject))).toBe(
      'challenge:401',
    );
    const browser = createBrowser();
    const started = await startLogin(browser, config);
    const refused = await submitLogin(browser, started.page, user.email, user.password);
    expect(refused.status).toBe(401);
    expect(refused.document.querySelector('#error')?.getAttribute('data-error')).toBe('invalid_credentials');
  });

  it('refuses a wrong password, and an unknown login, on its own page', async () => {
    const user = idp.createUser();
    const browser = createBrowser();
    const started = await startLogin(browser, config);
    const form = started.page.forms.find((f) => f.id === 'login');
    expect(form?.method).toBe('POST');
    expect(form?.fields.map((f) => f.name)).toEqual(['uid', 'csrf', 'login', 'password']);
    for (const [login, password] of [
      [user.email, `${user.password}x`],
      ['nobody@example.test', user.password],
    ] as const) {
      const refused = await submitLogin(browser, started.page, login, password);
      expect(refused.status).toBe(401);
      expect(refused.location).toBeUndefined();
      expect(refused.document.querySelector('#error')?.getAttribute('data-error')).toBe(
        'invalid_credentials',
      );
    }
    expect(idp.events.filter((e) => e.type === 'login_refused').length).toBeGreaterThanOrEqual(2);
    // Email is case-insensitive, as at real IdPs.
    const callback = await submitLogin(browser, started.page, user.email.toUpperCase(), user.password);
    expect((await finish(config, started, callback)).claims()?.email).toBe(user.email);
  });

  it('refuses a login POST without the page CSRF token', async () => {
    const user = idp.createUser();
    const browser = createBrowser();
    const started = await startLogin(browser, config);
    const page = await browser.submitForm(started.page, 'login', {
      login: user.email,
      password: user.password,
      csrf: 'x',
    });
    expect(page.status).toBe(403);
    expect(page.document.querySelector('#error')?.getAttribute('data-error')).toBe('csrf');
  });

  it('answers access_denied to the RP when the user cancels', async () => {
    const browser = createBrowser();
    const started = await startLogin(browser, config);
    const page = await browser.submitForm(
      started.page,
      'abort',
      {},
      { stopAt: (u) => u.href.startsWith(REDIRECT_URI) },
    );
    const params = new URL(page.location as string).searchParams;
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('state')).toBe(started.state);
  });

  it('requires PKCE', async () => {
    const browser = createBrowser();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      state: 's',
      nonce: 'n',
    });
    const page = await browser.get(url, { stopAt: (u) => u.href.startsWith(REDIRECT_URI) });
    const params = new URL(page.location as string).searchParams;
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses an unregistered redirect URI without redirecting to it', async () => {
    const browser = createBrowser();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:53682/elsewhere',
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await browser.get(url);
    expect(page.status).toBe(400);
    expect(page.document.querySelector('#error')?.getAttribute('data-error')).toBe('invalid_redirect_uri');
  });

  it('keeps an IdP session (SSO) and asks again once the user is disabled', async () => {
    const user = idp.createUser();
    const browser = createBrowser();
    await signIn(idp, config, user, browser);
    expect((await browser.cookies(idp.issuer)).some((c) => c.name === '_idp_session')).toBe(true);
    const sso = await startLogin(browser, config);
    expect(sso.page.location).toMatch(/\/callback\?code=/);
    expect((await finish(config, sso, sso.page)).claims()?.sub).toBe(user.subject);

    idp.disableUser(user.subject);
    const again = await startLogin(browser, config);
    expect(again.page.status).toBe(200);
    expect(again.page.forms.some((f) => f.id === 'login')).toBe(true);
  });
});

describe('mock IdP: provider claim quirks', () => {
  it('Entra group overage: no groups, _claim_names/_claim_sources instead; the source answers the groups', async () => {
    const user = idp.createUser({ groups: ['g1', 'g2'], groupsOverage: true });
    const tokens = await signIn(idp, config, user);
    const claims = tokens.claims() as Record<string, unknown>;
    expect(claims.groups).toBeUndefined();
    expect(claims._claim_names).toEqual({ groups: 'src1' });
    const endpoint = (claims._claim_sources as { src1: { endpoint: string } }).src1.endpoint;
    expect(endpoint).toBe(`${idp.issuer}/__ocg/graph/users/${user.subject}/getMemberObjects`);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.subject);
    expect(info.groups).toBeUndefined();
    expect(info._claim_names).toEqual({ groups: 'src1' });

    const ok = await fetch(endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ value: ['g1', 'g2'] });
    expect((await fetch(endpoint, { method: 'POST' })).status).toBe(401);

    idp.updateUser(user.subject, { groupsOverage: false });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.claims()?.groups).toEqual(['g1', 'g2']);
    expect(refreshed.claims()?._claim_names).toBeUndefined();
  });

  it('Google Workspace: hd in the ID token and userinfo; an unverified email says so', async () => {
    const user = idp.createUser({ email: 'dev@corp.example', hd: 'corp.example', emailVerified: false });
    const tokens = await signIn(idp, config, user);
    expect(tokens.claims()).toMatchObject({
      hd: 'corp.example',
      email: 'dev@corp.example',
      email_verified: false,
    });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, user.subject);
    expect(info).toMatchObject({ hd: 'corp.example', email_verified: false });
  });

  it('emits only what the scopes grant', async () => {
    const user = idp.createUser({ groups: ['x'] });
    const browser = createBrowser();
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
    });
    const page = await browser.get(url);
    const callback = await submitLogin(browser, page, user.email, user.password);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.location as string), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims() as Record<string, unknown>;
    expect(claims.email).toBe(user.email);
    expect(claims.groups).toBeUndefined();
    expect(claims.name).toBeUndefined();
  });
});

describe('mock IdP: options and misuse', () => {
  it('serves under an issuer path', async () => {
    const tenant = await startMockIdp({ seed: 5, issuerPath: '/tenant-a/v2.0/', users: [{ groups: ['t'] }] });
    try {
      expect(tenant.issuer).toBe(`${tenant.origin}/tenant-a/v2.0`);
      const c = await tenant.registerClient({ redirectUris: [REDIRECT_URI] });
      const cfg = await rpConfig(tenant, c);
      expect(cfg.serverMetadata().token_endpoint).toBe(`${tenant.issuer}/token`);
      const user = tenant.users[0] as MockIdpUser;
      const tokens = await signIn(tenant, cfg, user);
      expect(tokens.claims()).toMatchObject({ iss: tenant.issuer, groups: ['t'] });
      expect((await oidc.refreshTokenGrant(cfg, tokens.refresh_token as string)).claims()?.sub).toBe(
        user.subject,
      );
    } finally {
      await tenant.close();
    }
  });

  it('refuses bad client metadata and duplicate users', async () => {
    await expect(idp.registerClient({ redirectUris: ['not a url'] })).rejects.toMatchObject({
      code: 'ERR_MOCK_IDP',
    });
    await expect(
      idp.registerClient({ clientId: client.clientId, redirectUris: [REDIRECT_URI] }),
    ).rejects.toMatchObject({
      code: 'ERR_MOCK_IDP',
    });
    const user = idp.createUser();
    expect(() => idp.createUser({ email: user.email })).toThrow(/exists already/);
    expect(() => idp.disableUser('no-such-subject')).toThrow(ConformanceError);
  });

  it('lets a native client use any loopback port', async () => {
    const c = await idp.registerClient({
      redirectUris: ['http://127.0.0.1/callback'],
      applicationType: 'native',
      tokenEndpointAuthMethod: 'none',
    });
    const cfg = await rpConfig(idp, c);
    const user = idp.createUser();
    const browser = createBrowser();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: 'http://127.0.0.1:49152/callback',
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await browser.get(url);
    const callback = await browser.submitForm(
      page,
      'login',
      { login: user.email, password: user.password },
      {
        stopAt: (u) => u.port === '49152',
      },
    );
    const tokens = await oidc.authorizationCodeGrant(cfg, new URL(callback.location as string), {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    expect(tokens.claims()?.sub).toBe(user.subject);
  });
});
