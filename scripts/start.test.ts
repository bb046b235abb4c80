/**
 * The README's first command: `npm start` brings up the development profile and the printed example answers.
 * Runs the launcher as a child process, exactly as a newcomer would (state in a temporary directory).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBrowser } from '@ocg/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const launcher = path.join(import.meta.dirname, 'start.ts');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [launcher, ...args], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('npm start — development profile', () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ocg-start-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, OCG_STATE_DIR: dir, NODE_ENV: 'development' };
    delete env.OCG_CONFIG;
    delete env.DATABASE_URL;
    child = spawn(process.execPath, [launcher, '--port', String(port)], { env });
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within 45 s:\n${output}`)), 45_000);
      const poll = setInterval(() => {
        if (output.includes('Send a first request')) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
      }, 50);
      child.on('exit', (code) => reject(new Error(`launcher exited ${code}:\n${output}`)));
    });
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints what runs where, labelled as the development profile', () => {
    expect(output).toContain('DEVELOPMENT PROFILE');
    expect(output).toContain(`gateway    ${url}`);
    expect(output).toMatch(/upstream {3}mock Anthropic API at http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain('curl -s');
  });

  it('keeps the development token in a user-only file and never prints it', () => {
    const file = path.join(dir, 'dev-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(output).not.toContain(token);
  });

  it('answers the printed example request with a model answer', async () => {
    const token = readFileSync(path.join(dir, 'dev-token'), 'utf8').trim();
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hello' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const body = (await res.json()) as { type: string; content: Array<{ type: string; text: string }> };
    expect(body.type).toBe('message');
    expect(body.content[0]?.text).toMatch(/OCG development upstream/);
  });

  it('prints the demo user and how to sign in, and keeps the KEK and the user in user-only files', () => {
    expect(output).toMatch(/IdP {8}mock OpenID Provider at http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/user {7}dev@example\.test \/ \S{12,}/);
    expect(output).toContain(`node_modules/.bin/ocg login ${url}`);
    expect(output).toContain(`${url}/device`);
    for (const file of ['dev-kek', 'dev-idp-user.json']) {
      expect(statSync(path.join(dir, file)).mode & 0o077).toBe(0);
    }
    expect(output).not.toContain(readFileSync(path.join(dir, 'dev-kek'), 'utf8').trim());
  });

  it('signs the demo user in through the device flow and the mock IdP, then serves them', async () => {
    const [, email, password] = /user {7}(\S+) \/ (\S+)/.exec(output) ?? [];
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const device = (await (
      await fetch(`${url}/oauth/device_authorization`, { method: 'POST', headers: form, body: '' })
    ).json()) as { device_code: string; verification_uri_complete: string };
    const browser = createBrowser();
    try {
      const page = await browser.get(device.verification_uri_complete);
      const atIdp = await browser.submitForm(page, 0, {}, { submitter: 'action' });
      const done = await browser.submitForm(atIdp, '#login', {
        login: email ?? '',
        password: password ?? '',
      });
      expect(done.status).toBe(200);
      expect(new URL(done.url).origin).toBe(url);
    } finally {
      await browser.close();
    }
    const tokenRes = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: device.device_code,
      }),
    });
    expect(tokenRes.status).toBe(200);
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toContain(
      'claude-sonnet-4-5',
    );
    const settings = await fetch(`${url}/managed/settings`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(settings.status).toBe(200);
  });

  it('refuses a request without the development token', async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [] }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
  });
});

describe('npm start — refusals', () => {
  it.each([
    [
      'NODE_ENV=production without a config',
      [],
      { NODE_ENV: 'production' },
      /Refusing to start the development profile/,
    ],
    [
      'a config file that does not exist',
      ['--config', '/nonexistent/ocg.yaml'],
      {},
      /cannot read config file/,
    ],
    ['a port out of range', ['--port', '70000'], { NODE_ENV: 'development' }, /--port must be an integer/],
    ['an unknown flag', ['--bogus'], {}, /Unknown option '--bogus'/],
  ])('exits non-zero for %s', async (_name, args, env, message) => {
    const { code, out } = await run(args, env);
    expect(code).not.toBe(0);
    expect(out).toMatch(message);
  });

  it('runs a real configuration and reports an invalid one with its field path', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ocg-start-config-'));
    try {
      const file = path.join(dir, 'gateway.yaml');
      writeFileSync(file, 'server:\n  prot: 1\nauth: {staticTokens: []}\nupstreams: []\n');
      const { code, out } = await run(['--config', file], {});
      expect(code).toBe(1);
      expect(out).toContain('/server/prot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
