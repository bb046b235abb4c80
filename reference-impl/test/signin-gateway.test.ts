/**
 * Sign-in through the real gateway (config, pipeline, router, OAuth endpoints): the device flow end to end with the
 * kit's mock IdP and browser — device authorization → verification page → IdP login → callback → token → refresh
 * → a user disabled at the IdP is refused at the next refresh — and the verification page's defences as the
 * pipeline delivers requests (form parsing, cross-site posts, non-form bodies).
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowser } from '../../conformance/src/browser/index.ts';
import { type MockIdp, type MockIdpClient, startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { captureLogger, ENV, startUpstream, type TestUpstream } from './helpers.ts';
import { outcome } from './signin-helpers.ts';

const KEK = Buffer.alloc(32, 5).toString('base64url');
let idp: MockIdp;
let client: MockIdpClient;
let upstream: TestUpstream;
let gateway: Gateway;
const log = captureLogger([]);

beforeAll(async () => {
  idp = await startMockIdp({ seed: 2024 });
  // A native client may use any loopback port (RFC 8252 §7.3): the gateway's port is known only once it listens.
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
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await idp?.close();
});

async function form(path: string, fields: Record<string, string>) {
  const res = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('sign-in through the gateway', () => {
  it('device code → verification page → IdP → token → refresh; a user disabled at the IdP is refused at the next refresh', async () => {
    const user = idp.createUser({ groups: ['engineering'] });
    const started = await form('/oauth/device_authorization', {});
    expect(started.status).toBe(200);
    const { device_code, user_code, verification_uri, verification_uri_complete } = started.body as Record<
      string,
      string
    >;
    expect(verification_uri).toBe(`${gateway.url}/device`);

    const pending = await form('/oauth/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device_code as string,
    });
    expect(pending.body.error).toBe('authorization_pending');

    const browser = createBrowser();
    const page = await browser.get(verification_uri_complete as string);
    expect(page.status).toBe(200);
    expect(page.headers.get('request-id')).toMatch(/^req_/);
    expect(page.document.querySelector('#user-code-display')?.text).toBe(user_code);
    const login = await browser.submitForm(page, 'form#verify', {}, { submitter: 0 });
    expect(login.url.startsWith(`${idp.issuer}/interaction/`)).toBe(true);
    const result = await browser.submitForm(login, 'form#login', {
      login: user.email,
      password: user.password,
    });
    expect(result.url.startsWith(`${gateway.url}/oauth/callback?`)).toBe(true);
    expect(result.status, result.html).toBe(200);
    expect(outcome(result).outcome).toBe('approved');

    await new Promise((r) => setTimeout(r, 1_100)); // the poll interval
    const tokens = await form('/oauth/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device_code as string,
    });
    expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
    const claims = decodeJwt(tokens.body.access_token as string);
    expect(claims).toMatchObject({ sub: user.subject, email: user.email, groups: ['engineering'] });

    const inference = await fetch(`${gateway.url}/v1/models`, {
      headers: { authorization: `Bearer ${tokens.body.access_token as string}` },
    });
    expect(inference.status).not.toBe(401);

    idp.setGroups(user.subject, ['engineering', 'admins']);
    const refreshed = await form('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
    });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(decodeJwt(refreshed.body.access_token as string).groups).toEqual(['engineering', 'admins']);

    idp.disableUser(user.subject);
    const refused = await form('/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token as string,
    });
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
  }, 30_000);

  it('refuses a cross-site post with an HTML page, and a body that is not a form', async () => {
    const browser = createBrowser();
    const page = await browser.get(`${gateway.url}/device`);
    const csrf = page.forms[0]?.fields.find((f) => f.name === 'csrf')?.value as string;
    const cross = await browser.post(
      `${gateway.url}/device`,
      { user_code: 'BCDF-GHJK', action: 'approve', csrf },
      { initiator: 'http://evil.example/' },
    );
    expect(cross.status).toBe(403);
    expect(cross.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(outcome(cross).error).toBe('cross_site');

    // text/plain is what a cross-site <form enctype="text/plain"> sends without a preflight.
    const plain = await browser.navigate(`${gateway.url}/device`, {
      method: 'POST',
      body: `user_code=BCDF-GHJK&action=approve&csrf=${csrf}`,
      headers: { 'content-type': 'text/plain' },
      initiator: page,
    });
    expect(plain.status).toBeGreaterThanOrEqual(400);
    expect(plain.status).toBeLessThan(500);
  });

  it('serves the pages with no-store, no framing and no referrer', async () => {
    const page = await createBrowser().get(`${gateway.url}/device?user_code=bcdf-ghjk`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.document.querySelector('#user-code-display')?.text).toBe('BCDF-GHJK');
  });
});
