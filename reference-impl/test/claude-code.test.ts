/**
 * End-to-end: the real Claude Code CLI (the pinned devDependency) against the reference gateway, with the kit's mock
 * OpenID Provider as the IdP and the kit's mock Anthropic API as the upstream (issue 3, "Real client"):
 *
 * 1. gateway mode with an access token obtained through the device flow (`CLAUDE_CODE_USE_GATEWAY=1`,
 *    `ANTHROPIC_AUTH_TOKEN`) answers `claude -p`, and the inference record carries the user's identity;
 * 2. `ocg token` as the CLI's `apiKeyHelper` does the same;
 * 3. the CLI's own gateway login (managed settings `forceLoginMethod: "gateway"`, in a private mount namespace),
 *    driven through a pseudo-terminal: sign-in in the browser at the IdP, `/managed/settings` (then `304`),
 *    `/v1/models`, a prompt answered.
 *
 * Every client request goes through a recording tap configured as the gateway's public URL, which is how these
 * tests see statuses. What the CLI does at each step: docs/claude-code-client.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBrowser } from '../../conformance/src/browser/index.ts';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { type MockIdp, type MockIdpUser, startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import {
  type ClaudeScratch,
  createClaudeScratch,
  prerequisites,
  runClaude,
  skipReason,
  startClaudeTerminal,
  startTap,
  type Tap,
  until,
} from './claude-code-harness.ts';
import { captureLogger } from './helpers.ts';

const OCG_BIN = path.resolve(import.meta.dirname, '..', 'bin', 'ocg.js');
/** The model Claude Code 2.1.332 asks for by default; the policy allows it. */
const DEFAULT_MODEL = 'claude-opus-4-7';
/** The start of the mock upstream's canned answer: it never wraps on the terminal. */
const ANSWER_FRAGMENT = 'Hello from the OCG development upstream';

const pre = prerequisites();
const cliSkip = skipReason(pre.cliProblem);
const nsSkip = cliSkip ?? skipReason(pre.namespaceProblem);

function gatewayYaml(o: {
  tapUrl: string;
  idpIssuer: string;
  clientId: string;
  upstreamUrl: string;
}): string {
  return `
server:
  host: 127.0.0.1
  port: 0
database:
  url: "pglite:memory:"
auth:
  issuer: ${o.tapUrl}
  keyEncryptionKey: \${env:OCG_E2E_KEK}
  deviceAuthorization:
    intervalS: 1
  oidc:
    issuer: ${o.idpIssuer}
    clientId: ${o.clientId}
    clientSecret: \${env:OCG_E2E_IDP_SECRET}
upstreams:
  - name: mock-anthropic
    kind: anthropic
    baseUrl: ${o.upstreamUrl}
    apiKey: \${env:OCG_E2E_UPSTREAM_KEY}
models:
  - id: ${DEFAULT_MODEL}
    displayName: Claude Opus 4.7
  - id: claude-sonnet-4-5-20250929
    displayName: Claude Sonnet 4.5
    aliases: [claude-sonnet-4-5]
policies:
  - name: engineering
    match:
      groups: [eng]
    managedSettings:
      env:
        OCG_E2E_POLICY: engineering
    models: ["*"]
log:
  level: debug
`;
}

describe.skipIf(cliSkip !== null)('Claude Code CLI through the reference gateway', () => {
  let idp: MockIdp;
  let mock: MockAnthropic;
  let tap: Tap;
  let gateway: Gateway;
  let user: MockIdpUser;
  let scratch: ClaudeScratch | undefined;
  const log = captureLogger([]);

  beforeAll(async () => {
    idp = await startMockIdp({ seed: 3003 });
    user = idp.createUser({ groups: ['eng'] });
    const upstreamKey = `sk-ant-e2e-${randomBytes(12).toString('hex')}`;
    mock = await startMockAnthropic({ apiKey: upstreamKey });
    tap = await startTap();
    const clientId = 'ocg-e2e-gateway';
    const clientSecret = randomBytes(24).toString('base64url');
    await idp.registerClient({ clientId, clientSecret, redirectUris: [`${tap.url}/oauth/callback`] });
    const config = parseConfig(
      gatewayYaml({ tapUrl: tap.url, idpIssuer: idp.issuer, clientId, upstreamUrl: mock.url }),
      {
        OCG_E2E_KEK: randomBytes(32).toString('base64url'),
        OCG_E2E_IDP_SECRET: clientSecret,
        OCG_E2E_UPSTREAM_KEY: upstreamKey,
      },
    );
    gateway = await startGateway(config, { logger: log.logger });
    tap.target = gateway.url;
  });

  afterAll(async () => {
    await gateway?.close();
    await tap?.close();
    await mock?.close();
    await idp?.close();
  });

  afterEach(() => {
    scratch?.remove();
    scratch = undefined;
    tap.exchanges.length = 0;
  });

  /** What a person does in a browser: opens the verification page, confirms the code, signs in at the IdP. */
  async function approveInBrowser(userCode: string, o: { verificationUri?: string } = {}): Promise<void> {
    const browser = createBrowser();
    const page = o.verificationUri
      ? await browser.get(o.verificationUri)
      : await browser.get(`${tap.url}/device?user_code=${encodeURIComponent(userCode)}`);
    expect(page.status, page.html.slice(0, 400)).toBe(200);
    const idpLogin = await browser.submitForm(
      page,
      'form#verify',
      o.verificationUri ? { user_code: userCode } : {},
      {
        submitter: 0,
      },
    );
    expect(
      idpLogin.url.startsWith(`${idp.issuer}/interaction/`),
      `${idpLogin.url}\n${idpLogin.html.slice(0, 400)}`,
    ).toBe(true);
    const result = await browser.submitForm(idpLogin, 'form#login', {
      login: user.email,
      password: user.password,
    });
    expect(
      result.url.startsWith(`${tap.url}/oauth/callback`),
      `${result.url}\n${result.html.slice(0, 400)}`,
    ).toBe(true);
    expect(result.status, result.html.slice(0, 400)).toBe(200);
  }

  /** The device flow as a client runs it: start, approve in the browser, poll the token endpoint. */
  async function accessTokenThroughDeviceFlow(): Promise<string> {
    const started = await fetch(`${tap.url}/oauth/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(started.status).toBe(200);
    const device = (await started.json()) as { device_code: string; user_code: string; interval: number };
    await approveInBrowser(device.user_code);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${tap.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: device.device_code,
        }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string };
      if (res.status === 200 && body.access_token) return body.access_token;
      expect(['authorization_pending', 'slow_down']).toContain(body.error);
      if (Date.now() > deadline) throw new Error(`no token after 20 s: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, device.interval * 1000));
    }
  }

  /** The inference records written since `since` (they are batched: wait until `count` are there). */
  async function inferenceRecords(since: Date, count = 1) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const { rows } = await gateway.store.query<{
        subject: string | null;
        model: string | null;
        status: number;
      }>('SELECT subject, model, status FROM inference_requests WHERE started_at >= $1 ORDER BY started_at', [
        since.toISOString(),
      ]);
      if (rows.length >= count || Date.now() > deadline) return rows;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function lastUpstreamMessage() {
    const messages = mock.requests.filter((r) => r.url.startsWith('/v1/messages'));
    return messages[messages.length - 1];
  }

  it('gateway mode with a device-flow access token: claude -p gets the upstream answer, recorded as the user', async () => {
    const token = await accessTokenThroughDeviceFlow();
    scratch = createClaudeScratch();
    tap.exchanges.length = 0;
    const since = new Date();
    const run = await runClaude(scratch, ['-p', 'Say hello'], {
      env: {
        CLAUDE_CODE_USE_GATEWAY: '1',
        ANTHROPIC_BASE_URL: tap.url,
        ANTHROPIC_AUTH_TOKEN: token,
        CLAUDE_CODE_MAX_RETRIES: '0',
      },
    });
    expect(run.code, `${run.stdout}\n${run.stderr}\n${tap.lines().join('\n')}`).toBe(0);
    expect(run.stdout).toContain(ANSWER_FRAGMENT);
    expect(tap.lines()).toEqual(['POST /v1/messages?beta=true → 200']);
    const [record] = await inferenceRecords(since);
    expect(record).toMatchObject({ subject: user.subject, model: DEFAULT_MODEL, status: 200 });
    // The upstream saw the gateway's own key, never the user's token.
    const upstream = lastUpstreamMessage();
    expect(JSON.stringify(upstream?.headers)).not.toContain(token);
  });

  it("a model the gateway does not offer: claude -p fails with the gateway's message, nothing goes upstream", async () => {
    const token = await accessTokenThroughDeviceFlow();
    scratch = createClaudeScratch();
    tap.exchanges.length = 0;
    const upstreamBefore = mock.requests.length;
    const run = await runClaude(scratch, ['-p', 'Say hello', '--model', 'claude-unknown-9-9'], {
      env: {
        CLAUDE_CODE_USE_GATEWAY: '1',
        ANTHROPIC_BASE_URL: tap.url,
        ANTHROPIC_AUTH_TOKEN: token,
        CLAUDE_CODE_MAX_RETRIES: '0',
      },
    });
    expect(run.code).toBe(1);
    expect(`${run.stdout}${run.stderr}`).toMatch(/API Error: 400 .*claude-unknown-9-9/);
    expect(tap.lines().every((l) => l === 'POST /v1/messages?beta=true → 400')).toBe(true);
    expect(mock.requests.length).toBe(upstreamBefore);
  });

  it('ocg token as apiKeyHelper: ocg login through the device flow, then claude -p through the gateway', async () => {
    scratch = createClaudeScratch();
    const env = scratch.env();
    const login = spawn(process.execPath, [OCG_BIN, 'login', tap.url], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    login.stdout.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    login.stderr.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => login.on('close', resolve));
    const deadline = Date.now() + 20_000;
    const code = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const found = output.match(/\b([B-Z]{4}-[B-Z]{4})\b/)?.[1];
        if (found) resolve(found);
        else if (Date.now() > deadline || login.exitCode !== null)
          reject(new Error(`ocg login showed no code:\n${output}`));
        else return;
        clearInterval(timer);
      }, 50);
    });
    await approveInBrowser(code);
    expect(await exited, output).toBe(0);

    const helper = `${JSON.stringify(process.execPath)} ${JSON.stringify(OCG_BIN)} token`;
    const since = new Date();
    // With an API key (the helper's output) the CLI defaults to another model than with a bearer token: name
    // one, by an alias the catalogue resolves.
    const args = ['-p', 'Say hello', '--model', 'claude-sonnet-4-5'];
    const run = await runClaude(scratch, [...args, '--settings', JSON.stringify({ apiKeyHelper: helper })], {
      env: { CLAUDE_CODE_USE_GATEWAY: '1', ANTHROPIC_BASE_URL: tap.url, CLAUDE_CODE_MAX_RETRIES: '0' },
    });
    expect(run.code, `${run.stdout}\n${run.stderr}\n${tap.lines().join('\n')}`).toBe(0);
    expect(run.stdout).toContain(ANSWER_FRAGMENT);
    const inference = tap.exchanges.find((e) => e.path.startsWith('/v1/messages'));
    expect(inference?.status).toBe(200);
    // The helper's output goes in both headers; it is the gateway access token `ocg token` printed.
    const bearer = String(inference?.requestHeaders.authorization).replace(/^Bearer /, '');
    expect(bearer.split('.')).toHaveLength(3);
    expect(inference?.requestHeaders['x-api-key']).toBe(bearer);
    const [record] = await inferenceRecords(since);
    expect(record).toMatchObject({ subject: user.subject, model: 'claude-sonnet-4-5-20250929', status: 200 });
  });

  it.skipIf(nsSkip !== null)(
    "the CLI's own gateway login: browser sign-in, managed settings (then 304), models, a prompt answered",
    async () => {
      scratch = createClaudeScratch();
      scratch.setManagedSettings({ forceLoginMethod: 'gateway', forceLoginGatewayUrl: tap.url });
      const since = new Date();
      const term = startClaudeTerminal(scratch, [], { env: { CLAUDE_CODE_MAX_RETRIES: '0' } });
      try {
        await term.waitForText(/Claude Code v[\d.]+/, 30_000);
        await term.waitForText(/^❯/m);
        await term.type('/login');
        await term.confirm('/login');
        await term.confirm('Enter to connect');
        await term.choose('Yes, trust this gateway');
        const [, userCode] = await term.waitForText(/Code:\s+([B-Z]{4}-[B-Z]{4})/);
        const [verificationUri] = await term.waitForText(new RegExp(`${tap.url}/\\S*`));
        await approveInBrowser(userCode as string, { verificationUri });
        await term.waitForText('Connected to Cloud gateway', 30_000);
        await term.confirm('Connected to Cloud gateway');
        await term.choose('Yes, I trust these settings');
        await until(
          () => tap.lines().includes('GET /v1/models?limit=1000 → 200'),
          20_000,
          () => term.screen(),
        );
        await term.type('Say hello');
        await term.press('enter');
        await term.waitForText(ANSWER_FRAGMENT, 30_000);
      } finally {
        await term.close();
      }
      const signIn = tap.lines().filter((l) => !l.startsWith('POST /oauth/token → 400'));
      expect(signIn.slice(0, 3)).toEqual([
        'GET /.well-known/oauth-authorization-server → 200',
        'POST /oauth/device_authorization → 200',
        expect.stringMatching(/^GET \/device/),
      ]);
      expect(signIn).toContain('POST /oauth/token → 200');
      expect(signIn).toContain('GET /managed/settings → 200');
      expect(signIn).toContain('GET /managed/settings → 304');
      expect(signIn).toContain('POST /v1/messages?beta=true → 200');
      expect(scratch.credentials()).toMatchObject({ enterpriseGateway: { url: tap.url } });
      // The policy's settings reached the client, with the model-discovery variable the gateway adds.
      const cached = JSON.parse(
        readFileSync(path.join(scratch.home, '.claude', 'remote-settings.json'), 'utf8'),
      );
      expect(cached).toMatchObject({
        env: { OCG_E2E_POLICY: 'engineering', CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' },
      });

      // The next run: the cached settings' ETag gets a 304, then the model list, then the answer.
      tap.exchanges.length = 0;
      const run = await runClaude(scratch, ['-p', 'Say hello'], { env: { CLAUDE_CODE_MAX_RETRIES: '0' } });
      expect(run.code, `${run.stdout}\n${run.stderr}\n${tap.lines().join('\n')}`).toBe(0);
      expect(run.stdout).toContain(ANSWER_FRAGMENT);
      expect(tap.lines()).toEqual([
        'GET /managed/settings → 304',
        'GET /v1/models?limit=1000 → 200',
        'POST /v1/messages?beta=true → 200',
      ]);
      const models = await inferenceRecords(since, 2);
      expect(models.map((r) => r.subject)).toEqual([user.subject, user.subject]);
    },
    120_000,
  );
});
