/**
 * The OAuth endpoints through the real gateway (config, boot, pipeline, router, sign-in pages, the IdP re-check
 * against the kit's mock IdP): what a client sees at the wiring level. The full error tables run on the lighter
 * bench in oauth-endpoints.test.ts; here: discovery names the gateway's own URL and every advertised endpoint
 * answers, RFC 6749 errors keep their shape through the pipeline, device codes are single use, a replayed refresh
 * token ends the session on the bearer endpoints within 5 s, revocation, and an unreachable IdP neither signs the
 * user out nor spends the refresh token.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowser } from '../../conformance/src/browser/index.ts';
import { type MockIdp, type MockIdpClient, startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { createDeviceAuthorizations } from '../src/session/device-codes.ts';
import { createKek } from '../src/session/kek.ts';
import { createSessionManager } from '../src/session/sessions.ts';
import { sha256Hex } from '../src/session/util.ts';
import { captureLogger, ENV, type SendResult, send, startUpstream, type TestUpstream } from './helpers.ts';

const KEK = Buffer.alloc(32, 9).toString('base64url');
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let idp: MockIdp;
let idpClosed = false;
let client: MockIdpClient;
let upstream: TestUpstream;
let gateway: Gateway;
const log = captureLogger([]);
const secrets: string[] = [];

beforeAll(async () => {
  idp = await startMockIdp({ seed: 3131 });
  client = await idp.registerClient({
    redirectUris: ['http://127.0.0.1/oauth/callback'],
    applicationType: 'native',
  });
  upstream = await startUpstream();
  const yaml = `
server: { host: 127.0.0.1, port: 0 }
database: { url: "pglite:memory:" }
auth:
  keyEncryptionKey: \${env:OCG_KEK}
  revocationCacheTtlMs: 2000
  deviceAuthorization: { intervalS: 1 }
  oidc:
    issuer: ${idp.issuer}
    clientId: ${client.clientId}
    clientSecret: \${env:OCG_OIDC_SECRET}
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: ${upstream.url}
    apiKey: \${env:ANTHROPIC_API_KEY}
log: { level: debug }
`;
  const config = parseConfig(yaml, { ...ENV, OCG_KEK: KEK, OCG_OIDC_SECRET: client.clientSecret });
  gateway = await startGateway(config, { logger: log.logger });
}, 30_000);
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  if (!idpClosed) await idp?.close();
});

function post(path: string, fields: Record<string, string> | string, headers: Record<string, string> = FORM) {
  const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  return send(`${gateway.url}${path}`, { method: 'POST', headers, body });
}

function json(r: SendResult): Record<string, unknown> {
  return JSON.parse(r.body) as Record<string, unknown>;
}

function expectOAuthError(r: SendResult, status: number, error: string): void {
  expect({ status: r.status, body: json(r) }).toEqual({
    status,
    body: { error, error_description: expect.any(String) },
  });
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers['request-id']).toMatch(/^req_/);
}

async function startDevice(): Promise<Record<string, string>> {
  const r = await post('/oauth/device_authorization', 'surface=claude_code');
  expect(r.status, r.body).toBe(200);
  const d = json(r) as Record<string, string>;
  secrets.push(d.device_code as string, d.user_code as string);
  return d;
}

const poll = (deviceCode: string) =>
  post('/oauth/token', { grant_type: DEVICE_GRANT, device_code: deviceCode });
const refresh = (refreshToken: string) =>
  post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
const bearer = (accessToken: string) =>
  send(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${accessToken}` } });

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

function tokensOf(r: SendResult): Tokens {
  expect(r.status, r.body).toBe(200);
  expect(r.headers['cache-control']).toBe('no-store');
  const t = json(r) as unknown as Tokens;
  secrets.push(t.access_token, t.refresh_token);
  return t;
}

/** The whole device flow as a user does it: verification page, IdP login, then the client's poll. */
async function signIn(groups: string[] = ['engineering']): Promise<Tokens & { subject: string }> {
  const user = idp.createUser({ groups });
  const d = await startDevice();
  const browser = createBrowser();
  const page = await browser.get(d.verification_uri_complete as string);
  const login = await browser.submitForm(page, 'form#verify', {}, { submitter: 0 });
  const result = await browser.submitForm(login, 'form#login', {
    login: user.email,
    password: user.password,
  });
  expect(result.status, result.html).toBe(200);
  await new Promise((r) => setTimeout(r, 1_050)); // the poll interval
  return { ...tokensOf(await poll(d.device_code as string)), subject: user.subject };
}

async function waitForStatus(accessToken: string, status: number, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = await bearer(accessToken);
    if (r.status === status) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`still ${r.status} after ${withinMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('discovery through the gateway', () => {
  it('names the gateway URL as issuer, and every advertised endpoint answers', async () => {
    const m = json(await send(`${gateway.url}/.well-known/oauth-authorization-server`));
    expect(m).toMatchObject({
      issuer: gateway.url,
      device_authorization_endpoint: `${gateway.url}/oauth/device_authorization`,
      token_endpoint: `${gateway.url}/oauth/token`,
      revocation_endpoint: `${gateway.url}/oauth/revoke`,
    });
    expect(m).not.toHaveProperty('authorization_endpoint');

    const c = json(await send(`${gateway.url}/.well-known/ocg-configuration`));
    expect(c.features).toEqual(expect.arrayContaining(['sign-in', 'ocg-configuration']));
    expect(c.profiles).toEqual(expect.arrayContaining(['core']));
    const endpoints = c.endpoints as Record<string, string>;
    for (const [name, url] of Object.entries(endpoints)) {
      expect(new URL(url).origin, name).toBe(gateway.url);
      const method = ['device_authorization', 'token', 'revocation', 'messages'].includes(name)
        ? 'POST'
        : 'GET';
      const r = await send(url, { method, headers: FORM, body: method === 'POST' ? '' : undefined });
      expect([404, 405, 501], `${name}: ${method} ${url} → ${r.status}`).not.toContain(r.status);
    }
  });
});

describe('RFC 6749 errors through the pipeline', () => {
  it.each([
    { what: 'no grant_type', path: '/oauth/token', body: '', status: 400, error: 'invalid_request' },
    {
      what: 'an unknown grant_type',
      path: '/oauth/token',
      body: 'grant_type=password',
      status: 400,
      error: 'unsupported_grant_type',
    },
    {
      what: 'an unknown device code',
      path: '/oauth/token',
      body: `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=${'A'.repeat(43)}`,
      status: 400,
      error: 'invalid_grant',
    },
    {
      what: 'an unknown refresh token',
      path: '/oauth/token',
      body: `grant_type=refresh_token&refresh_token=${'B'.repeat(43)}`,
      status: 401,
      error: 'invalid_grant',
    },
    {
      what: 'a revocation without token',
      path: '/oauth/revoke',
      body: '',
      status: 400,
      error: 'invalid_request',
    },
  ])('$what → $status $error', async ({ path, body, status, error }) => {
    expectOAuthError(await post(path, body), status, error);
  });

  it.each([
    ['/oauth/token', '{"grant_type":"refresh_token"}'],
    ['/oauth/device_authorization', '{}'],
    ['/oauth/revoke', '{"token":"x"}'],
  ])('POST %s with a JSON body → 400 invalid_request', async (path, body) => {
    expectOAuthError(await post(path, body, { 'content-type': 'application/json' }), 400, 'invalid_request');
  });
});

describe('device grant through the gateway', () => {
  /** What the verification page does after the IdP login, done on the gateway's database directly. */
  async function approve(userCode: string): Promise<void> {
    const sessions = createSessionManager(gateway.store, createKek(KEK), { refreshTokenTtlS: 3600 });
    const { sessionId } = await sessions.createPendingSession({
      subject: 'direct-user',
      email: null,
      name: null,
      groups: [],
      idpIssuer: idp.issuer,
      idpSubject: 'direct-user',
      ttlS: 3600,
    });
    expect(await createDeviceAuthorizations(gateway.store).approve(userCode, sessionId, 'direct-user')).toBe(
      true,
    );
  }

  it('slows a client down that polls faster than the interval', async () => {
    const d = await startDevice();
    expect(d.interval).toBe(1);
    expectOAuthError(await poll(d.device_code as string), 400, 'authorization_pending');
    const fast = await poll(d.device_code as string);
    expectOAuthError(fast, 400, 'slow_down');
    expect(json(fast).error_description).toMatch(/6 seconds/);
  });

  it('hands tokens out once: a second poll after the successful one is invalid_grant', async () => {
    const d = await startDevice();
    await approve(d.user_code as string);
    const t = tokensOf(await poll(d.device_code as string));
    expect(decodeJwt(t.access_token)).toMatchObject({ sub: 'direct-user', iss: gateway.url });
    expect((await bearer(t.access_token)).status).toBe(200);
    expectOAuthError(await poll(d.device_code as string), 400, 'invalid_grant');
  });
});

describe('sessions through the gateway', () => {
  it('a replayed rotated refresh token ends the session on the bearer endpoints within 5 s', async () => {
    const first = await signIn();
    expect((await bearer(first.access_token)).status).toBe(200);
    const second = tokensOf(await refresh(first.refresh_token));
    expect((await bearer(second.access_token)).status).toBe(200);

    expectOAuthError(await refresh(first.refresh_token), 401, 'invalid_grant');
    expectOAuthError(await refresh(second.refresh_token), 401, 'invalid_grant');
    expect(await waitForStatus(second.access_token, 401, 5_000)).toBeLessThan(5_000);
    expect((await bearer(first.access_token)).status).toBe(401);
  }, 30_000);

  it.each(['refresh_token', 'access_token'] as const)(
    'revoking the %s signs the session out',
    async (kind) => {
      const t = await signIn();
      const r = await post('/oauth/revoke', {
        token: kind === 'refresh_token' ? t.refresh_token : t.access_token,
      });
      expect(r.status, r.body).toBe(200);
      expect(await waitForStatus(t.access_token, 401, 5_000)).toBeLessThan(5_000);
      expectOAuthError(await refresh(t.refresh_token), 401, 'invalid_grant');
    },
    30_000,
  );

  it('revocation of a token the gateway does not know is 200', async () => {
    expect((await post('/oauth/revoke', { token: 'C'.repeat(43) })).status).toBe(200);
    expect((await post('/oauth/revoke', { token: 'a.b.c' })).status).toBe(200);
  });

  it('an unreachable IdP answers 503 temporarily_unavailable and leaves the refresh token unspent', async () => {
    const t = await signIn();
    await idp.close();
    idpClosed = true;
    const r = await refresh(t.refresh_token);
    expectOAuthError(r, 503, 'temporarily_unavailable');
    const row = await gateway.store.query<{ used_at: unknown }>(
      'SELECT used_at FROM refresh_tokens WHERE token_hash = $1',
      [sha256Hex(t.refresh_token)],
    );
    expect(row.rows).toEqual([{ used_at: null }]);
    expect((await bearer(t.access_token)).status).toBe(200); // still signed in
  }, 30_000);
});

describe('logging through the gateway', () => {
  it('never logs a device code, user code, access token or refresh token', () => {
    expect(secrets.length).toBeGreaterThan(10);
    const text = log.lines.join('\n');
    for (const s of secrets) expect(text.includes(s), 'a secret reached the log').toBe(false);
  });
});
