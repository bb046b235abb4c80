/**
 * `ocg token`, `ocg status` and `ocg logout` on a stored session, against the fake authorization server:
 * refreshing near expiry, rotation stored atomically, one refresh among concurrent callers, `invalid_grant`
 * ending the session, the session file's checks, revocation on logout, exit codes and messages.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeGateway,
  fakeAccessToken,
  runOcg,
  scratch,
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
  fake.requests.length = 0;
  fake.revoked.length = 0;
  fake.refreshes = 0;
  fake.reuseDetected = false;
  fake.refreshDelayMs = 0;
  fake.accessTokenTtlS = 3600;
});

function stored(file: string): Record<string, string | null> {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function tokenRequests() {
  return fake.requests.filter((q) => q.path === '/oauth/token');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('ocg token', () => {
  it('prints only the stored token, one line, without any network call while it is fresh', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3600);
    const r = await runOcg(['token'], s.env);
    expect(r).toMatchObject({ code: 0, stdout: `${t.access_token}\n`, stderr: '' });
    expect(fake.requests).toEqual([]);
  });

  it.each([
    ['fewer than 60 s left', 30, []],
    ['already expired', -120, []],
    ['--min-ttl above what is left', 3600, ['--min-ttl', '4000']],
  ] as const)(
    'refreshes when %s, and stores the rotated refresh token atomically',
    async (_n, left, args) => {
      const s = scratch();
      const t = fake.issueSession();
      writeSession(s.dir, fake, t, left);
      const inodeBefore = statSync(s.file).ino;
      const r = await runOcg(['token', ...args], s.env);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const after = stored(s.file);
      expect(r.stdout).toBe(`${after.access_token}\n`);
      expect(after.access_token).not.toBe(t.access_token);
      expect(after.refresh_token).not.toBe(t.refresh_token);
      expect(fake.secrets()).toContain(after.refresh_token);
      expect(Date.parse(after.expires_at as string) - Date.now()).toBeGreaterThan(3500_000);
      const [req] = tokenRequests();
      expect(req?.form.get('grant_type')).toBe('refresh_token');
      expect(req?.form.get('refresh_token')).toBe(t.refresh_token);
      expect(req?.form.get('client_id')).toBe('ocg-cli');
      // A new file renamed into place, still 0600, no temporary or lock file left behind.
      expect(statSync(s.file).ino).not.toBe(inodeBefore);
      expect(statSync(s.file).mode & 0o777).toBe(0o600);
      expect(readdirSync(s.dir)).toEqual(['session.json']);
    },
  );

  it('does not refresh with --min-ttl 0 while the token is valid', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 30);
    const r = await runOcg(['token', '--min-ttl', '0'], s.env);
    expect(r.stdout).toBe(`${t.access_token}\n`);
    expect(fake.requests).toEqual([]);
  });

  it('concurrent callers near expiry refresh once and all print the new token (no refresh-token reuse)', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 10);
    fake.refreshDelayMs = 300;
    const runs = await Promise.all(Array.from({ length: 5 }, () => runOcg(['token'], s.env)));
    const token = stored(s.file).access_token;
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${token}\n`);
    }
    expect(fake.refreshes).toBe(1);
    expect(fake.reuseDetected).toBe(false);
    expect(readdirSync(s.dir)).toEqual(['session.json']);
  });

  it('invalid_grant deletes the session and says to sign in again (exit 9)', async () => {
    const s = scratch();
    const t = fake.issueSession();
    fake.revokeFamilyOf(t.refresh_token);
    writeSession(s.dir, fake, t, 10);
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(9);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `ocg: session expired or revoked: run \`ocg login ${fake.url}\` [ERR_SESSION_EXPIRED]\n`,
    );
    expect(existsSync(s.file)).toBe(false);
    // The next call knows it is signed out.
    const again = await runOcg(['token'], s.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('ocg: not signed in: run `ocg login <gateway-url>` [ERR_NOT_SIGNED_IN]\n');
  });

  it('an unreachable gateway with a still-valid token: prints it, warns, exit 0', async () => {
    const s = scratch();
    const t = fake.issueSession();
    const port = await closedPort();
    const dead = `http://127.0.0.1:${port}`;
    writeSession(s.dir, fake, t, 30, {
      gateway_url: dead,
      token_endpoint: `${dead}/oauth/token`,
      revocation_endpoint: `${dead}/oauth/revoke`,
    });
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${t.access_token}\n`);
    expect(r.stderr).toMatch(
      /^ocg: warning: could not refresh \(cannot reach the gateway at .*: connection refused\); using the current token, which expires in \d+ s\n$/,
    );
    expect(stored(s.file).refresh_token).toBe(t.refresh_token);
  });

  it('an unreachable gateway with an expired token: ERR_GATEWAY_UNREACHABLE, exit 3, session kept', async () => {
    const s = scratch();
    const t = fake.issueSession();
    const dead = `http://127.0.0.1:${await closedPort()}`;
    writeSession(s.dir, fake, t, -10, {
      gateway_url: dead,
      token_endpoint: `${dead}/oauth/token`,
      revocation_endpoint: `${dead}/oauth/revoke`,
    });
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('[ERR_GATEWAY_UNREACHABLE]');
    expect(existsSync(s.file)).toBe(true);
  });

  it('an expired token without a refresh token: ERR_SESSION_EXPIRED', async () => {
    const s = scratch();
    writeSession(s.dir, fake, { access_token: fakeAccessToken({ sub: 'u' }, -10), refresh_token: null }, -10);
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe(`ocg: session expired: run \`ocg login ${fake.url}\` [ERR_SESSION_EXPIRED]\n`);
  });

  it('not signed in: exit 1', async () => {
    const r = await runOcg(['token'], scratch().env);
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'ocg: not signed in: run `ocg login <gateway-url>` [ERR_NOT_SIGNED_IN]\n',
    });
  });
});

describe('the session file', () => {
  const corruptions: Array<[string, string, string]> = [
    ['not JSON', '{"version":1,', 'not JSON'],
    ['empty', '', 'empty'],
    ['an array', '[]', 'not an object'],
    ['another version', '{"version":2}', 'unknown version 2'],
    ['no access token', '{"version":1,"gateway_url":"http://127.0.0.1:1"}', '"issuer" is missing'],
  ];

  it.each(corruptions)('%s → ERR_SESSION_CORRUPT, exit 10, for token and status', async (_n, text, why) => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 3600);
    writeFileSync(s.file, text);
    for (const command of ['token', 'status']) {
      const r = await runOcg([command], s.env);
      expect(r.code).toBe(10);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `ocg: the session file ${s.file} is corrupted (${why}): run \`ocg login <gateway-url>\` to replace it or \`ocg logout\` to delete it [ERR_SESSION_CORRUPT]\n`,
      );
    }
  });

  it('a stored endpoint on another origin is refused as corrupted, and no token is sent there', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 10, { token_endpoint: 'https://attacker.example/token' });
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain('"token_endpoint" is not on the gateway\'s origin');
  });

  it('a file other users can read → ERR_SESSION_INSECURE (exit 11), nothing printed', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3600);
    chmodSync(s.file, 0o644);
    const r = await runOcg(['token'], s.env);
    expect(r.code).toBe(11);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`the session file ${s.file} is accessible to other users (mode 0644)`);
    expect(r.stderr).toContain('[ERR_SESSION_INSECURE]');
  });

  it.runIf(process.getuid?.() === 0)('a file owned by another user → ERR_SESSION_INSECURE', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 3600);
    chownSync(s.file, 65534, 65534);
    const r = await runOcg(['status'], s.env);
    expect(r.code).toBe(11);
    expect(r.stderr).toContain('belongs to another user (uid 65534)');
  });

  it('a directory other users can enter is tightened to 0700 on the next write', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 10);
    chmodSync(s.dir, 0o755);
    expect((await runOcg(['token'], s.env)).code).toBe(0);
    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
  });
});

describe('ocg status', () => {
  it('signed in: gateway, identity from the claims (marked unverified), expiry; exit 0; no secrets', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3000);
    const r = await runOcg(['status'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Gateway: +${fake.url.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(/^Signed in: +yes$/m);
    expect(r.stdout).toMatch(/^Subject: +user-alice$/m);
    expect(r.stdout).toMatch(/^Email: +alice@example\.com$/m);
    expect(r.stdout).toMatch(/^Groups: +eng, ai-users$/m);
    expect(r.stdout).toMatch(/^Access token: +expires \S+ \(in 50 min\)$/m);
    expect(r.stdout).toMatch(/^Refresh token: +stored/m);
    expect(r.stdout).toContain('decoded without verifying its signature');
    for (const secret of fake.secrets()) expect(r.stdout).not.toContain(secret);
    expect(fake.requests).toEqual([]);
  });

  it('--json: the same facts as JSON, no secrets', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3000);
    const r = await runOcg(['status', '--json'], s.env);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      signed_in: true,
      gateway_url: fake.url,
      access_token_valid: true,
      refresh_token_stored: true,
      identity: {
        sub: 'user-alice',
        email: 'alice@example.com',
        groups: ['eng', 'ai-users'],
        verified: false,
      },
      session_file: s.file,
    });
    for (const secret of fake.secrets()) expect(r.stdout).not.toContain(secret);
  });

  it('an expired access token with a refresh token is still signed in', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), -60);
    const r = await runOcg(['status'], s.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Access token: +expired \S+ \(60 s ago\)$/m);
  });

  it('an expired access token and no refresh token: not signed in, exit 1', async () => {
    const s = scratch();
    writeSession(s.dir, fake, { access_token: fakeAccessToken({ sub: 'u' }, -10), refresh_token: null }, -10);
    const r = await runOcg(['status'], s.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`Signed in:     no — run \`ocg login ${fake.url}\``);
  });

  it('not signed in: exit 1', async () => {
    const r = await runOcg(['status'], scratch().env);
    expect(r).toMatchObject({
      code: 1,
      stdout: 'Not signed in. Run `ocg login <gateway-url>`.\n',
      stderr: '',
    });
  });
});

describe('ocg logout', () => {
  it('revokes the refresh token, then the access token, and deletes the session', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3600);
    const r = await runOcg(['logout'], s.env);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: `Signed out of ${fake.url}.\n` });
    expect(fake.revoked).toEqual([
      { token: t.refresh_token, hint: 'refresh_token' },
      { token: t.access_token, hint: 'access_token' },
    ]);
    expect(fake.requests.every((q) => q.form.get('client_id') === 'ocg-cli')).toBe(true);
    expect(existsSync(s.file)).toBe(false);
    expect((await runOcg(['status'], s.env)).code).toBe(1);
  });

  it('an unreachable gateway: deletes the session anyway, with a warning, exit 0', async () => {
    const s = scratch();
    const t = fake.issueSession();
    const dead = `http://127.0.0.1:${await closedPort()}`;
    writeSession(s.dir, fake, t, 3600, {
      gateway_url: dead,
      token_endpoint: `${dead}/oauth/token`,
      revocation_endpoint: `${dead}/oauth/revoke`,
    });
    const r = await runOcg(['logout'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `ocg: warning: could not revoke the session at ${dead} (cannot reach the gateway`,
    );
    expect(r.stderr).toContain('The local session is deleted');
    expect(r.stderr).toContain(`Signed out of ${dead}.`);
    expect(existsSync(s.file)).toBe(false);
    for (const secret of fake.secrets()) expect(r.stderr).not.toContain(secret);
  });

  it('a gateway without a revocation endpoint: deletes, warns', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 3600, { revocation_endpoint: null });
    const r = await runOcg(['logout'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the gateway advertises no revocation endpoint');
    expect(existsSync(s.file)).toBe(false);
  });

  it('a corrupted file is deleted with a warning', async () => {
    const s = scratch();
    writeSession(s.dir, fake, fake.issueSession(), 3600);
    writeFileSync(s.file, 'garbage');
    const r = await runOcg(['logout'], s.env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('is corrupted (not JSON); deleted it without revoking anything');
    expect(existsSync(s.file)).toBe(false);
  });

  it('an over-permissive file is revoked (its tokens may have leaked) and deleted', async () => {
    const s = scratch();
    const t = fake.issueSession();
    writeSession(s.dir, fake, t, 3600);
    chmodSync(s.file, 0o644);
    const r = await runOcg(['logout'], s.env);
    expect(r.code).toBe(0);
    expect(fake.revoked.map((x) => x.token)).toEqual([t.refresh_token, t.access_token]);
    expect(existsSync(s.file)).toBe(false);
  });

  it('not signed in: nothing to do, exit 0', async () => {
    const r = await runOcg(['logout'], scratch().env);
    expect(r).toMatchObject({ code: 0, stderr: 'Not signed in; nothing to do.\n' });
  });
});

describe('usage', () => {
  it.each([
    [['frobnicate'], 2, 'unknown command: frobnicate'],
    [['token', '--min-ttl', 'soon'], 2, '--min-ttl takes a whole number of seconds'],
    [['token', 'extra'], 2, 'unexpected argument for `ocg token`: extra'],
    [['status', '--min-ttl', '5'], 2, '`ocg status` does not take --min-ttl'],
    [['--bogus'], 2, "Unknown option '--bogus'"],
    [[], 2, 'Usage: ocg <command> [options]'],
  ] as const)('ocg %j → exit %i', async (args, exit, message) => {
    const r = await runOcg([...args], scratch().env);
    expect(r.code).toBe(exit);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('--help and --version print to stdout, exit 0', async () => {
    const help = await runOcg(['--help'], scratch().env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('token [--min-ttl <s>]');
    const version = await runOcg(['--version'], scratch().env);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ocg \d+\.\d+\.\d+\n$/) });
  });

  it('node_modules/.bin/ocg runs on a PATH whose node cannot strip TypeScript', async () => {
    const { spawnSync } = await import('node:child_process');
    const { resolve } = await import('node:path');
    const bin = resolve(import.meta.dirname, '../../node_modules/.bin/ocg');
    const r = spawnSync(bin, ['--version'], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ocg \d/);
  });
});
