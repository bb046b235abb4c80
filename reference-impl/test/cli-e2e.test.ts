/**
 * End to end: the `ocg` CLI against the reference gateway booted from a configuration with sign-in, the kit's mock
 * OpenID Provider as the IdP and the kit's mock Anthropic as the upstream. `ocg login` prints the verification URL;
 * the kit's browser opens it, approves the code, signs in at the IdP and lands on the gateway's result page; then
 * the stored token works on bearer endpoints, refreshes, ends when the user is disabled at the IdP, and `ocg logout`
 * revokes it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowser } from '../../conformance/src/browser/index.ts';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { type MockIdp, type MockIdpUser, startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { runOcg, scratch, spawnOcg } from './cli-fake-gateway.ts';
import { captureLogger } from './helpers.ts';

const MODEL = 'claude-sonnet-4-5-20250929';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let idp: MockIdp;
let mock: MockAnthropic;
let gateway: Gateway;
let url: string;
const log = captureLogger([]);

beforeAll(async () => {
  idp = await startMockIdp({ seed: 4242 });
  const upstreamKey = `sk-ant-e2e-${randomBytes(12).toString('hex')}`;
  mock = await startMockAnthropic({ apiKey: upstreamKey });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const clientId = 'ocg-cli-e2e-gateway';
  const clientSecret = randomBytes(24).toString('base64url');
  await idp.registerClient({ clientId, clientSecret, redirectUris: [`${url}/oauth/callback`] });
  const config = parseConfig(
    `
server:
  host: 127.0.0.1
  port: ${port}
database:
  url: "pglite:memory:"
auth:
  issuer: ${url}
  keyEncryptionKey: \${env:OCG_E2E_KEK}
  deviceAuthorization:
    intervalS: 1
  oidc:
    issuer: ${idp.issuer}
    clientId: ${clientId}
    clientSecret: \${env:OCG_E2E_IDP_SECRET}
upstreams:
  - name: mock-anthropic
    kind: anthropic
    baseUrl: ${mock.url}
    apiKey: \${env:OCG_E2E_UPSTREAM_KEY}
models:
  - id: ${MODEL}
    displayName: Claude Sonnet 4.5
policies:
  - name: engineering
    match:
      groups: [eng]
    managedSettings:
      env:
        OCG_CLI_E2E: engineering
    models: ["*"]
log:
  level: warn
`,
    {
      OCG_E2E_KEK: randomBytes(32).toString('base64url'),
      OCG_E2E_IDP_SECRET: clientSecret,
      OCG_E2E_UPSTREAM_KEY: upstreamKey,
    },
  );
  gateway = await startGateway(config, { logger: log.logger });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
  await idp?.close();
});

/** `ocg login`, approved in the kit's browser at the URL the CLI printed, as `user` at the mock IdP. */
async function login(user: MockIdpUser): Promise<ReturnType<typeof scratch>> {
  const s = scratch();
  const p = spawnOcg(['login', url], s.env);
  const [, verificationUri] = await p.waitForStderr(/^ {4}(http:\/\/\S+\/device\?user_code=\S+)$/m);
  const [, userCode] = await p.waitForStderr(/^ {4}([B-Z]{4}-[B-Z]{4})$/m);
  const browser = createBrowser();
  const page = await browser.get(verificationUri as string);
  expect(page.status, page.html.slice(0, 400)).toBe(200);
  // The page shows the code the terminal shows (the user compares them before approving).
  expect(page.document.querySelector('#user-code-display')?.text).toBe(userCode);
  const idpLogin = await browser.submitForm(page, 'form#verify', {}, { submitter: 0 });
  expect(idpLogin.url.startsWith(`${idp.issuer}/interaction/`), idpLogin.html.slice(0, 400)).toBe(true);
  const result = await browser.submitForm(idpLogin, 'form#login', {
    login: user.email,
    password: user.password,
  });
  expect(result.status, result.html.slice(0, 400)).toBe(200);
  expect(result.url.startsWith(`${url}/oauth/callback`)).toBe(true);
  const r = await p.done;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`Signed in to ${url} as ${user.email}.`);
  return s;
}

async function bearer(path: string, token: string): Promise<Response> {
  return fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

async function token(env: Record<string, string>, ...args: string[]): Promise<string> {
  const r = await runOcg(['token', ...args], env);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  return r.stdout.trim();
}

describe('ocg against the reference gateway with the mock IdP', () => {
  it('login in the browser → status shows the IdP identity → the token works on bearer endpoints', async () => {
    const user = idp.createUser({ groups: ['eng'] });
    const s = await login(user);

    const status = await runOcg(['status', '--json'], s.env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      signed_in: true,
      gateway_url: url,
      identity: { email: user.email, groups: ['eng'], verified: false },
    });

    const access = await token(s.env);
    const models = await bearer('/v1/models', access);
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual([MODEL]);
    const settings = await bearer('/managed/settings', access);
    expect(settings.status).toBe(200);
    expect(((await settings.json()) as { settings: unknown }).settings).toMatchObject({
      env: { OCG_CLI_E2E: 'engineering' },
    });
  });

  it('a refresh rotates the refresh token and the new access token works; a disabled user is refused next time', async () => {
    const user = idp.createUser({ groups: ['eng'] });
    const s = await login(user);
    const before = JSON.parse(readFileSync(s.file, 'utf8'));
    const refreshed = await token(s.env, '--min-ttl', '7200');
    const after = JSON.parse(readFileSync(s.file, 'utf8'));
    expect(refreshed).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect((await bearer('/v1/models', refreshed)).status).toBe(200);

    idp.disableUser(user.subject);
    const r = await runOcg(['token', '--min-ttl', '7200'], s.env);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe(
      `ocg: session expired or revoked: run \`ocg login ${url}\` [ERR_SESSION_EXPIRED]\n`,
    );
    expect(existsSync(s.file)).toBe(false);
  });

  it('logout revokes the session: its access token is refused at once', async () => {
    const user = idp.createUser({ groups: ['eng'] });
    const s = await login(user);
    const access = await token(s.env);
    expect((await bearer('/v1/models', access)).status).toBe(200);
    const r = await runOcg(['logout'], s.env);
    expect(r).toMatchObject({ code: 0, stderr: `Signed out of ${url}.\n` });
    const refused = await bearer('/v1/models', access);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
  });
});
