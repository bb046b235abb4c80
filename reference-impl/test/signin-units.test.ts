/**
 * The sign-in building blocks on their own: `auth.oidc` config (schema defaults and the checks beyond it), claim
 * mapping, the anti-forgery token and the sealed flow cookie, the same-origin check, client-address keys and the
 * attempt limiter.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { GatewayError } from '../src/errors.ts';
import { createKek } from '../src/session/kek.ts';
import { type ClaimMapping, mapClaims } from '../src/signin/claims.ts';
import { isLoopbackHost, type OidcConfig, withOidcDefaults } from '../src/signin/config.ts';
import { cookieNames, parseCookies, serializeCookie } from '../src/signin/cookies.ts';
import {
  csrfToken,
  type Flow,
  newCsrfSecret,
  openFlow,
  sealFlow,
  verifyCsrfToken,
} from '../src/signin/flow.ts';
import { errorPage, escapeHtml, PAGE_ERRORS, type PageError, verificationPage } from '../src/signin/pages.ts';
import { createRateLimiter } from '../src/signin/rate-limit.ts';
import { checkSameOrigin, defaultClientAddress } from '../src/signin/request.ts';

const KEK = Buffer.alloc(32, 9).toString('base64');
const ENV = { KEK, OIDC_SECRET: 'idp-client-secret-value-0001', ANTHROPIC_API_KEY: 'sk-ant-x' };

function yaml(oidc: string): string {
  return `
auth:
  keyEncryptionKey: \${env:KEK}
  oidc:
${oidc
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: http://127.0.0.1:9999
    apiKey: \${env:ANTHROPIC_API_KEY}
`;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, ENV);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return [...(err as GatewayError).details];
  }
  return [];
}

describe('auth.oidc config', () => {
  it('fills in the defaults', () => {
    const config = parseConfig(
      yaml('issuer: https://idp.example.com\nclientId: ocg\nclientSecret: ${env:OIDC_SECRET}'),
      ENV,
    );
    expect(config.auth.oidc).toEqual({
      issuer: 'https://idp.example.com',
      clientId: 'ocg',
      clientSecret: ENV.OIDC_SECRET,
      scopes: 'openid email profile groups offline_access',
      claims: { email: 'email', name: 'name', groups: 'groups' },
      requireEmailVerified: true,
      allowedEmailDomains: [],
      groupsOverage: 'deny',
      authorizationParams: {},
    });
    expect(config.auth.oidc).toEqual(
      withOidcDefaults({ issuer: 'https://idp.example.com', clientId: 'ocg', clientSecret: ENV.OIDC_SECRET }),
    );
  });

  const refused: Array<[string, string, string]> = [
    [
      'a literal client secret',
      'issuer: https://idp.example.com\nclientId: ocg\nclientSecret: hunter2',
      '/auth/oidc/clientSecret: must be a secret reference',
    ],
    [
      'plain http to a non-loopback issuer',
      'issuer: http://idp.example.com\nclientId: ocg',
      '/auth/oidc/issuer: must use https://',
    ],
    [
      'plain http to a non-loopback redirect URI',
      'issuer: https://idp.example.com\nclientId: ocg\nredirectUri: http://gw.example.com/oauth/callback',
      '/auth/oidc/redirectUri: must use https://',
    ],
    [
      'scopes without openid',
      'issuer: https://idp.example.com\nclientId: ocg\nscopes: email profile',
      '/auth/oidc/scopes: must include openid',
    ],
    [
      'a reserved authorization parameter',
      'issuer: https://idp.example.com\nclientId: ocg\nauthorizationParams: { state: fixed }',
      '/auth/oidc/authorizationParams/state: is set by the gateway itself',
    ],
    [
      'a client secret method without a secret',
      'issuer: https://idp.example.com\nclientId: ocg\ntokenEndpointAuthMethod: client_secret_basic',
      '/auth/oidc/clientSecret: is required',
    ],
    [
      'an unknown overage mode',
      'issuer: https://idp.example.com\nclientId: ocg\ngroupsOverage: ignore',
      '/auth/oidc/groupsOverage: must be equal to one of the allowed values (deny, no_groups)',
    ],
    [
      'an unknown key',
      'issuer: https://idp.example.com\nclientId: ocg\nclaim: {}',
      '/auth/oidc/claim: unknown key',
    ],
    ['a missing client id', 'issuer: https://idp.example.com', '/auth/oidc/clientId: is required'],
  ];
  it.each(refused)('refuses %s', (_name, oidc, want) => {
    const found = problems(yaml(oidc));
    expect(
      found.some((p) => p.startsWith(want)),
      found.join('\n'),
    ).toBe(true);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('accepts plain http on loopback (a development IdP)', () => {
    expect(problems(yaml('issuer: http://127.0.0.1:9000\nclientId: ocg'))).toEqual([]);
    expect(problems(yaml('issuer: http://localhost:9000/realms/x\nclientId: ocg'))).toEqual([]);
  });

  it.each([
    ['localhost', true],
    ['app.localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['128.0.0.1', false],
    ['idp.example.com', false],
    ['localhost.example.com', false],
    ['::ffff:127.0.0.1', false],
  ] as const)('isLoopbackHost(%s) = %s', (host, want) => {
    expect(isLoopbackHost(host)).toBe(want);
  });
});

describe('claim mapping', () => {
  const base = withOidcDefaults({ issuer: 'https://idp', clientId: 'c' });
  const ok = { sub: 'u1', email: 'a@corp.example', email_verified: true, name: 'A', groups: ['g1', 'g2'] };
  type Case = [string, Record<string, unknown>, Partial<OidcConfig>, ClaimMapping];
  const cases: Case[] = [
    [
      'the usual claims',
      ok,
      {},
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
    [
      'email_verified as the string "true"',
      { ...ok, email_verified: 'true' },
      {},
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
    [
      'one group as a string; duplicates and non-strings dropped',
      { ...ok, groups: 'solo' },
      {},
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['solo'] },
      },
    ],
    [
      'no groups claim at all is no groups',
      { ...ok, groups: undefined },
      {},
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: [] },
      },
    ],
    [
      'configured claim names',
      { sub: 'u1', upn: 'a@corp.example', email_verified: true, display: 'A', roles: ['r', 'r', 3] },
      { claims: { email: 'upn', name: 'display', groups: 'roles' } },
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['r'] },
      },
    ],
    [
      'no sub',
      { ...ok, sub: '' },
      {},
      { ok: false, reason: 'subject_missing', message: expect.any(String) as unknown as string },
    ],
    [
      'email_verified false',
      { ...ok, email_verified: false },
      {},
      { ok: false, reason: 'email_not_verified', message: expect.any(String) as unknown as string },
    ],
    [
      'email_verified missing',
      { ...ok, email_verified: undefined },
      {},
      { ok: false, reason: 'email_not_verified', message: expect.any(String) as unknown as string },
    ],
    [
      'no email while verification is required',
      { ...ok, email: undefined },
      {},
      { ok: false, reason: 'email_not_verified', message: expect.any(String) as unknown as string },
    ],
    [
      'unverified allowed when not required',
      { ...ok, email_verified: false },
      { requireEmailVerified: false },
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
    [
      'domain not listed',
      ok,
      { allowedEmailDomains: ['other.example'] },
      {
        ok: false,
        reason: 'domain_not_allowed',
        message: 'Accounts of the domain corp.example may not sign in to this gateway.',
      },
    ],
    [
      'domain listed in another case',
      ok,
      { allowedEmailDomains: ['CORP.example'] },
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
    [
      'domain judged after the last @',
      { ...ok, email: '"x@corp.example"@evil.example' },
      { allowedEmailDomains: ['corp.example'] },
      { ok: false, reason: 'domain_not_allowed', message: expect.any(String) as unknown as string },
    ],
    [
      'hd missing',
      ok,
      { hostedDomain: 'corp.example' },
      { ok: false, reason: 'hosted_domain_mismatch', message: expect.any(String) as unknown as string },
    ],
    [
      'hd matching',
      { ...ok, hd: 'corp.example' },
      { hostedDomain: 'corp.example' },
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
    [
      'Entra overage (_claim_names), deny',
      {
        ...ok,
        groups: undefined,
        _claim_names: { groups: 'src1' },
        _claim_sources: { src1: { endpoint: 'https://graph' } },
      },
      {},
      { ok: false, reason: 'groups_overage', message: expect.any(String) as unknown as string },
    ],
    [
      'Entra overage (hasgroups), deny',
      { ...ok, groups: undefined, hasgroups: true },
      {},
      { ok: false, reason: 'groups_overage', message: expect.any(String) as unknown as string },
    ],
    [
      'Entra overage, no_groups',
      { ...ok, groups: undefined, _claim_names: { groups: 'src1' } },
      { groupsOverage: 'no_groups' },
      {
        ok: true,
        groupsOverage: true,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: [] },
      },
    ],
    [
      '_claim_names for another claim is no overage',
      { ...ok, _claim_names: { other: 'src1' } },
      {},
      {
        ok: true,
        groupsOverage: false,
        identity: { subject: 'u1', email: 'a@corp.example', name: 'A', groups: ['g1', 'g2'] },
      },
    ],
  ];
  it.each(cases)('%s', (_name, claims, rules, want) => {
    expect(mapClaims(claims, { ...base, ...rules })).toEqual(want);
  });
});

describe('anti-forgery token and flow cookie', () => {
  const kek = createKek(KEK);
  const flow: Flow = {
    userCode: 'BCDFGHJK',
    browserSecret: 'b'.repeat(43),
    codeVerifier: 'v'.repeat(43),
    state: 's'.repeat(43),
    nonce: 'n'.repeat(43),
    expiresAt: Date.now() + 60_000,
  };

  it('a token verifies only with the cookie it was made for, and only from this KEK', async () => {
    const secret = newCsrfSecret();
    const token = await csrfToken(kek, secret);
    expect(await verifyCsrfToken(kek, secret, token)).toBe(true);
    expect(await verifyCsrfToken(kek, newCsrfSecret(), token)).toBe(false);
    expect(await verifyCsrfToken(createKek(Buffer.alloc(32, 1).toString('base64')), secret, token)).toBe(
      false,
    );
    expect(await verifyCsrfToken(kek, secret, '')).toBe(false);
    expect(await verifyCsrfToken(kek, secret, `${token.slice(0, -2)}AA`)).toBe(false);
    // A sealed flow is not a token (the JWE's context differs).
    expect(await verifyCsrfToken(kek, secret, await sealFlow(kek, flow))).toBe(false);
  });

  it('a sealed flow opens only unaltered and under its own context; its secrets are not readable', async () => {
    const sealed = await sealFlow(kek, flow);
    expect(await openFlow(kek, sealed)).toEqual(flow);
    for (const secret of [flow.browserSecret, flow.codeVerifier, flow.state, flow.nonce]) {
      expect(sealed).not.toContain(secret);
    }
    const [h, k, iv, ct, tag] = sealed.split('.') as [string, string, string, string, string];
    const flipped = `${ct.slice(0, 5)}${ct[5] === 'A' ? 'B' : 'A'}${ct.slice(6)}`;
    expect(await openFlow(kek, [h, k, iv, flipped, tag].join('.'))).toBeNull();
    expect(await openFlow(kek, await csrfToken(kek, newCsrfSecret()))).toBeNull();
    expect(await openFlow(createKek(Buffer.alloc(32, 1).toString('base64')), sealed)).toBeNull();
    expect(await openFlow(kek, undefined)).toBeNull();
    expect(await openFlow(kek, 'x'.repeat(5000))).toBeNull();
  });
});

describe('cookies', () => {
  it('are named ocg_* on http and __Host-ocg_* on https, never _idp_*', () => {
    expect(cookieNames(false)).toEqual({ csrf: 'ocg_csrf', device: 'ocg_device' });
    expect(cookieNames(true)).toEqual({ csrf: '__Host-ocg_csrf', device: '__Host-ocg_device' });
  });
  it('serialise HttpOnly, SameSite=Lax, Path=/, Secure on https, Max-Age when short-lived', () => {
    expect(serializeCookie('ocg_device', 'v', { secure: false, maxAgeS: 600 })).toBe(
      'ocg_device=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=600',
    );
    expect(serializeCookie('__Host-ocg_csrf', 'v', { secure: true })).toBe(
      '__Host-ocg_csrf=v; Path=/; HttpOnly; SameSite=Lax; Secure',
    );
    expect(serializeCookie('ocg_device', '', { secure: false, maxAgeS: 0 })).toBe(
      'ocg_device=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    );
  });
  it('parse the first of duplicate names', () => {
    expect(parseCookies('a=1; b="2"; a=3; junk; =x')).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    );
  });
});

describe('same-origin check', () => {
  const own = 'https://gw.example.com';
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['same-origin post', { 'sec-fetch-site': 'same-origin', origin: own }, true],
    ['user-typed (none)', { 'sec-fetch-site': 'none' }, true],
    ['no metadata at all (left to the token)', {}, true],
    ['cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, false],
    [
      'same-site, other origin',
      { 'sec-fetch-site': 'same-site', origin: 'https://other.example.com' },
      false,
    ],
    ['Origin of another site without Fetch Metadata', { origin: 'https://evil.example' }, false],
    ['Origin of another port', { origin: 'https://gw.example.com:8443' }, false],
    ['opaque Origin null', { origin: 'null' }, false],
    ['Origin in other case', { 'sec-fetch-site': 'same-origin', origin: 'HTTPS://GW.EXAMPLE.COM' }, true],
  ];
  it.each(cases)('%s', (_name, headers, want) => {
    expect(checkSameOrigin(headers, own).ok).toBe(want);
  });
});

describe('client address keys', () => {
  const req = (remoteAddress: string) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s → %s', (address, want) => {
    expect(defaultClientAddress(req(address))).toBe(want);
  });
});

describe('attempt limiter', () => {
  it('admits `limit` attempts per window, then refuses with the seconds left, then admits again', () => {
    let t = 0;
    const limiter = createRateLimiter({ limit: 3, windowS: 60 }, { now: () => t });
    expect([1, 2, 3].map(() => limiter.hit('ip').allowed)).toEqual([true, true, true]);
    expect(limiter.check('ip')).toEqual({ allowed: false, retryAfterS: 60 });
    t = 15_000;
    expect(limiter.hit('ip')).toEqual({ allowed: false, retryAfterS: 45 });
    expect(limiter.hit('other').allowed).toBe(true);
    t = 60_000;
    expect(limiter.check('ip').allowed).toBe(true);
    expect(limiter.hit('ip').allowed).toBe(true);
  });
  it('stays within its key bound', () => {
    const limiter = createRateLimiter({ limit: 1, windowS: 60 }, { now: () => 0, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) limiter.hit(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

describe('pages', () => {
  it('escape everything they show', () => {
    expect(escapeHtml(`<a href="x">'&`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;');
    const page = verificationPage({
      action: 'https://gw/device',
      csrf: 't',
      userCode: null,
      typed: '"><script>alert(1)</script>',
      gatewayName: 'gw',
    });
    expect(page.html).not.toContain('<script>');
  });
  it.each(Object.keys(PAGE_ERRORS) as PageError[])('%s has its status and data-error', (error) => {
    const page = errorPage({ error });
    expect(page.status).toBe(PAGE_ERRORS[error].status);
    expect(page.html).toContain(`data-error="${error}"`);
    expect(page.status).toBeGreaterThanOrEqual(400);
  });
});
