/**
 * `ocg login` against a fake authorization server that speaks the client contract: discovery and its failures,
 * the device flow and its outcomes, where and how the session is stored. The CLI runs as a real process.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ALICE,
  type FakeGateway,
  runOcg,
  scratch,
  spawnOcg,
  startFakeGateway,
  writeSession,
} from './cli-fake-gateway.ts';

let fake: FakeGateway;
beforeAll(async () => {
  fake = await startFakeGateway();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  fake.metadata = null;
  fake.metadataResponse = null;
  fake.deviceAuthorizationStatus = null;
  fake.intervalS = 0.2;
  fake.requests.length = 0;
  fake.revoked.length = 0;
});

const CODE_LINE = /^ {4}([B-Z]{4}-[B-Z]{4})$/m;

function expectNoSecrets(text: string): void {
  for (const secret of fake.secrets()) expect(text).not.toContain(secret);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('ocg login: the device flow', () => {
  it('prints the URL and code, polls until approved, and stores the session 0600 in a 0700 directory', async () => {
    const s = scratch();
    const p = spawnOcg(['login', fake.url], s.env);
    const [, code] = await p.waitForStderr(CODE_LINE);
    expect(code).toBeDefined();
    // Let it poll while pending at least once.
    await p.waitForStderr(/Waiting for approval/);
    await new Promise((r) => setTimeout(r, 500));
    fake.setDevice(code as string, 'approved');
    const r = await p.done;

    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`To sign in to ${fake.url}, open this page in a browser:`);
    expect(r.stderr).toContain(`    ${fake.url}/device?user_code=${code}\n`);
    expect(r.stderr).toContain(`(Or open ${fake.url}/device and enter the code.)`);
    expect(r.stderr).toContain(`Signed in to ${fake.url} as alice@example.com.`);
    expect(r.stderr).toContain(`Session saved in ${s.file}`);
    expectNoSecrets(r.stdout + r.stderr);

    const polls = fake.requests.filter((q) => q.form.get('grant_type')?.endsWith(':device_code'));
    expect(polls.length).toBeGreaterThanOrEqual(2);
    const start = fake.requests.find((q) => q.path === '/oauth/device_authorization');
    expect(start?.form.get('client_id')).toBe('ocg-cli');

    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    expect(readdirSync(s.dir)).toEqual(['session.json']);
    const stored = JSON.parse(readFileSync(s.file, 'utf8'));
    expect(stored).toMatchObject({
      version: 1,
      gateway_url: fake.url,
      issuer: fake.url,
      token_endpoint: `${fake.url}/oauth/token`,
      revocation_endpoint: `${fake.url}/oauth/revoke`,
      token_type: 'bearer',
    });
    expect(fake.secrets()).toContain(stored.access_token);
    expect(fake.secrets()).toContain(stored.refresh_token);
    const left = Date.parse(stored.expires_at) - Date.now();
    expect(left).toBeGreaterThan(3500_000);
    expect(left).toBeLessThanOrEqual(3600_000);
  });

  it('a new login replaces the stored session atomically and revokes the old one', async () => {
    const s = scratch();
    const old = fake.issueSession();
    writeSession(s.dir, fake, old, 3600);
    const inodeBefore = statSync(s.file).ino;
    const p = spawnOcg(['login', `${fake.url}/`], s.env);
    const [, code] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(code as string, 'approved');
    const r = await p.done;
    expect(r.code).toBe(0);
    const stored = JSON.parse(readFileSync(s.file, 'utf8'));
    expect(stored.refresh_token).not.toBe(old.refresh_token);
    expect(stored.gateway_url).toBe(fake.url);
    // Written to a new file and renamed over the old one, never rewritten in place.
    expect(statSync(s.file).ino).not.toBe(inodeBefore);
    expect(fake.revoked).toEqual([{ token: old.refresh_token, hint: 'refresh_token' }]);
  });

  it('without an argument, signs in again to the gateway of the stored session', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 3600);
    const p = spawnOcg(['login'], s.env);
    const [, code] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(code as string, 'approved');
    expect((await p.done).code).toBe(0);
  });

  it('honours slow_down: keeps polling and signs in', { timeout: 30_000 }, async () => {
    const s = scratch();
    const p = spawnOcg(['login', fake.url], s.env);
    const [, code] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(code as string, 'slow_down');
    await new Promise((r) => setTimeout(r, 600));
    fake.setDevice(code as string, 'approved');
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(existsSync(s.file)).toBe(true);
  });

  it.each([
    ['denied', 'ERR_ACCESS_DENIED', 7, 'sign-in was denied (access_denied: The user denied the sign-in.)'],
    ['expired', 'ERR_DEVICE_CODE_EXPIRED', 8, 'the sign-in code expired or was already used'],
  ] as const)('%s at the gateway → %s, exit %i, nothing stored', async (state, code, exit, message) => {
    const s = scratch();
    const p = spawnOcg(['login', fake.url], s.env);
    const [, userCode] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(userCode as string, state);
    const r = await p.done;
    expect(r.code).toBe(exit);
    expect(r.stderr).toContain(`ocg: ${message}`);
    expect(r.stderr).toContain(`[${code}]`);
    expect(existsSync(s.file)).toBe(false);
    expectNoSecrets(r.stderr);
  });

  it('stops with ERR_DEVICE_CODE_EXPIRED when the code outlives expires_in without an answer', async () => {
    fake.deviceExpiresInS = 1;
    try {
      const s = scratch();
      // expires_in 1 s + the CLI's 1 s grace: the fake keeps answering authorization_pending.
      const r = await runOcg(['login', fake.url], s.env);
      expect(r.code).toBe(8);
      expect(r.stderr).toContain('[ERR_DEVICE_CODE_EXPIRED]');
    } finally {
      fake.deviceExpiresInS = 600;
    }
  }, 30_000);

  it('Ctrl-C while waiting cancels: exit 130, nothing stored', async () => {
    const s = scratch();
    const p = spawnOcg(['login', fake.url], s.env);
    await p.waitForStderr(/Waiting for approval/);
    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('[ERR_CANCELLED]');
    expect(existsSync(s.file)).toBe(false);
  });
});

describe('ocg login: refusals before any sign-in', () => {
  const metadataCases: Array<
    [string, (f: FakeGateway) => void, { exit: number; code: string; message: string | RegExp }]
  > = [
    [
      '404 at the metadata path',
      (f) => {
        f.metadataResponse = (res) => {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('nope');
        };
      },
      {
        exit: 4,
        code: 'ERR_NOT_A_GATEWAY',
        message:
          'does not look like an OCG gateway: GET /.well-known/oauth-authorization-server answered HTTP 404',
      },
    ],
    [
      'an HTML page',
      (f) => {
        f.metadataResponse = (res) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html></html>');
        };
      },
      { exit: 4, code: 'ERR_NOT_A_GATEWAY', message: 'answered text/html, not JSON metadata' },
    ],
    [
      'a redirect',
      (f) => {
        f.metadataResponse = (res) => {
          res.writeHead(302, { location: 'https://elsewhere.example/' });
          res.end();
        };
      },
      {
        exit: 4,
        code: 'ERR_NOT_A_GATEWAY',
        message: 'answered HTTP 302 (a redirect: ocg does not follow redirects',
      },
    ],
    [
      'broken JSON',
      (f) => {
        f.metadataResponse = (res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"issuer":');
        };
      },
      { exit: 5, code: 'ERR_BAD_METADATA', message: "the gateway's metadata is invalid" },
    ],
    [
      'no issuer',
      (f) => {
        f.metadata = { device_authorization_endpoint: `${f.url}/d`, token_endpoint: `${f.url}/t` };
      },
      { exit: 5, code: 'ERR_BAD_METADATA', message: '"issuer"' },
    ],
    [
      'no device_authorization_endpoint',
      (f) => {
        f.metadata = { issuer: f.url, token_endpoint: `${f.url}/oauth/token` };
      },
      {
        exit: 5,
        code: 'ERR_BAD_METADATA',
        message: `the gateway's metadata has no "device_authorization_endpoint"`,
      },
    ],
    [
      'a token endpoint on another origin',
      (f) => {
        f.metadata = {
          issuer: f.url,
          device_authorization_endpoint: `${f.url}/oauth/device_authorization`,
          token_endpoint: 'https://attacker.example/token',
        };
      },
      {
        exit: 5,
        code: 'ERR_BAD_METADATA',
        message: `"token_endpoint" points to another origin (https://attacker.example, not ${'http://127.0.0.1'}`,
      },
    ],
    [
      'no device grant among grant_types_supported',
      (f) => {
        f.metadata = {
          issuer: f.url,
          device_authorization_endpoint: `${f.url}/oauth/device_authorization`,
          token_endpoint: `${f.url}/oauth/token`,
          grant_types_supported: ['authorization_code'],
        };
      },
      { exit: 5, code: 'ERR_BAD_METADATA', message: 'does not offer the device authorization grant' },
    ],
  ];

  it.each(metadataCases)('%s → exit %#', async (_name, arrange, want) => {
    arrange(fake);
    const s = scratch();
    const r = await runOcg(['login', fake.url], s.env);
    expect(r.code).toBe(want.exit);
    expect(r.stderr).toContain(`[${want.code}]`);
    if (typeof want.message === 'string') expect(r.stderr).toContain(want.message);
    else expect(r.stderr).toMatch(want.message);
    expect(r.stdout).toBe('');
    expect(fake.requests.some((q) => q.path === '/oauth/device_authorization')).toBe(false);
  });

  it('a device authorization endpoint that fails → ERR_GATEWAY_ERROR, exit 13', async () => {
    fake.deviceAuthorizationStatus = 503;
    const r = await runOcg(['login', fake.url], scratch().env);
    expect(r.code).toBe(13);
    expect(r.stderr).toBe(
      'ocg: the gateway answered the device authorization request with HTTP 503 [ERR_GATEWAY_ERROR]\n',
    );
  });

  it('an unreachable gateway → ERR_GATEWAY_UNREACHABLE, exit 3', async () => {
    const port = await closedPort();
    const r = await runOcg(['login', `http://127.0.0.1:${port}`], scratch().env);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `ocg: cannot reach the gateway at http://127.0.0.1:${port}: connection refused [ERR_GATEWAY_UNREACHABLE]\n`,
    );
  });

  it.each([
    ['http://gateway.example.com', 6, 'ERR_INSECURE_URL', 'refusing plain http:// to gateway.example.com'],
    ['http://10.0.0.5:8080', 6, 'ERR_INSECURE_URL', 'refusing plain http:// to 10.0.0.5:8080'],
    ['not a url', 2, 'ERR_USAGE', 'not a URL: "not a url"'],
    ['ftp://gw.example.com', 2, 'ERR_USAGE', 'the gateway URL must start with https://'],
    ['https://user:pw@gw.example.com', 2, 'ERR_USAGE', 'must not contain a user name or password'],
    ['https://gw.example.com/?x=1', 2, 'ERR_USAGE', 'must not contain a query'],
  ] as const)('%s → exit %i (%s)', async (url, exit, code, message) => {
    const r = await runOcg(['login', url], scratch().env);
    expect(r.code).toBe(exit);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(`[${code}]`);
  });

  it('no gateway URL at all → usage, exit 2', async () => {
    const r = await runOcg(['login'], scratch().env);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ocg: usage: ocg login <gateway-url> [ERR_USAGE]\n');
  });

  it('a config directory that cannot be created fails before the device flow starts', async () => {
    const s = scratch();
    const blocker = join(s.env.HOME as string, 'blocker');
    writeFileSync(blocker, 'a file, not a directory');
    const r = await runOcg(['login', fake.url], { ...s.env, OCG_CONFIG_DIR: join(blocker, 'ocg') });
    expect(r.code).toBe(12);
    expect(r.stderr).toContain(`cannot create the directory ${join(blocker, 'ocg')}`);
    expect(r.stderr).toContain('[ERR_PERMISSION]');
    expect(fake.requests).toEqual([]);
  });

  it('uses $XDG_CONFIG_HOME/ocg when OCG_CONFIG_DIR is not set', async () => {
    const s = scratch();
    const xdg = join(s.env.HOME as string, 'xdg');
    const p = spawnOcg(['login', fake.url], { HOME: s.env.HOME as string, XDG_CONFIG_HOME: xdg });
    const [, code] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(code as string, 'approved', ALICE);
    expect((await p.done).code).toBe(0);
    expect(existsSync(join(xdg, 'ocg', 'session.json'))).toBe(true);
  });

  it('defaults to ~/.config/ocg', async () => {
    const s = scratch();
    const p = spawnOcg(['login', fake.url], { HOME: s.env.HOME as string });
    const [, code] = await p.waitForStderr(CODE_LINE);
    fake.setDevice(code as string, 'approved');
    expect((await p.done).code).toBe(0);
    const file = join(s.env.HOME as string, '.config', 'ocg', 'session.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
