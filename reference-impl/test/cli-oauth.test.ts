/**
 * The `ocg` CLI against the reference gateway's own OAuth endpoints (src/handlers/oauth.ts on the real router and
 * pipeline, via test/oauth-harness.ts): RFC 8414 metadata, device authorization, the token endpoint's device and
 * refresh grants (rotation, reuse detection, IdP re-check), RFC 7009 revocation. The browser approval is done the
 * way the verification page does it after the IdP login (`approve()`), without the page, so the harness's knobs
 * (IdP verdicts, revocation) are at hand; cli-e2e.test.ts runs the whole gateway with the page and the mock IdP.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken } from '../src/session/access-token.ts';
import { sessionPrincipal } from '../src/session/sessions.ts';
import { runOcg, scratch, spawnOcg } from './cli-fake-gateway.ts';
import { type OAuthBench, startOAuthBench } from './oauth-harness.ts';

let bench: OAuthBench;
let ticker: NodeJS.Timeout;
beforeAll(async () => {
  bench = await startOAuthBench();
  // The harness's device-flow clock is manual: keep it in step with real time, as the CLI polls in real time.
  let last = Date.now();
  ticker = setInterval(() => {
    const now = Date.now();
    bench.advance((now - last) / 1000);
    last = now;
  }, 50);
});
afterAll(async () => {
  clearInterval(ticker);
  await bench?.close();
});

const CODE_LINE = /^ {4}([B-Z]{4}-[B-Z]{4})$/m;

function stored(file: string): { access_token: string; refresh_token: string; expires_at: string } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** A session as a completed device flow leaves it, written where the CLI keeps it. */
async function signedInSession(subject: string, ttlS = 3600) {
  const s = scratch();
  const { sessionId, refreshToken } = await bench.sessions.createSession({
    subject,
    email: `${subject}@example.com`,
    name: subject,
    groups: ['eng'],
    idpIssuer: 'https://idp.example.test',
    idpSubject: `idp-${subject}`,
    ttlS: 86_400,
  });
  const session = await bench.sessions.getSession(sessionId);
  if (!session) throw new Error('no session');
  const { token } = await issueAccessToken(
    bench.keyring,
    { issuer: bench.url, audience: bench.url, ttlS },
    sessionPrincipal(session),
  );
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(s.dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    s.file,
    JSON.stringify({
      version: 1,
      gateway_url: bench.url,
      issuer: bench.url,
      token_endpoint: `${bench.url}/oauth/token`,
      revocation_endpoint: `${bench.url}/oauth/revoke`,
      access_token: token,
      token_type: 'bearer',
      expires_at: new Date(Date.now() + ttlS * 1000).toISOString(),
      refresh_token: refreshToken,
      obtained_at: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  return { ...s, sessionId, token, refreshToken };
}

describe('ocg against the reference OAuth endpoints', () => {
  it('login → the gateway verifies the stored token; status shows the identity', {
    timeout: 30_000,
  }, async () => {
    const s = scratch();
    const p = spawnOcg(['login', bench.url], s.env);
    const [, code] = await p.waitForStderr(CODE_LINE);
    await bench.approve(code as string, {
      subject: 'user-grace',
      email: 'grace@example.com',
      groups: ['eng', 'ops'],
    });
    const r = await p.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Signed in to ${bench.url} as grace@example.com.`);

    const session = stored(s.file);
    expect(await bench.verify(session.access_token)).toMatchObject({
      subject: 'user-grace',
      email: 'grace@example.com',
      groups: ['eng', 'ops'],
    });
    const status = await runOcg(['status', '--json'], s.env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      signed_in: true,
      gateway_url: bench.url,
      identity: { sub: 'user-grace', email: 'grace@example.com', groups: ['eng', 'ops'] },
    });
    // The token's expiry as the gateway set it (default 1 h).
    const left = Date.parse(session.expires_at) - Date.now();
    expect(left).toBeGreaterThan(3500_000);
  });

  it('token refreshes through the refresh grant: rotated, and the new access token verifies', async () => {
    const s = await signedInSession('user-refresh');
    const r = await runOcg(['token', '--min-ttl', '7200'], s.env);
    expect(r.code, r.stderr).toBe(0);
    const after = stored(s.file);
    expect(r.stdout).toBe(`${after.access_token}\n`);
    expect(after.refresh_token).not.toBe(s.refreshToken);
    expect((await bench.verify(after.access_token)).subject).toBe('user-refresh');
    expect(bench.idp.calls).toBeGreaterThan(0);
  });

  it('concurrent `ocg token` near expiry refresh once: no refresh-token reuse at the gateway, the session lives', async () => {
    const s = await signedInSession('user-concurrent', 20);
    const rechecksBefore = bench.idp.calls;
    const runs = await Promise.all(Array.from({ length: 4 }, () => runOcg(['token'], s.env)));
    const after = stored(s.file);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${after.access_token}\n`);
    }
    expect(bench.idp.calls - rechecksBefore).toBe(1);
    expect((await bench.sessions.getSession(s.sessionId))?.revokedAt).toBeNull();
    expect((await bench.verify(after.access_token)).subject).toBe('user-concurrent');
  });

  it('callers that each must refresh (--min-ttl above the lifetime) rotate in turn, never reusing a token', async () => {
    const s = await signedInSession('user-serial');
    const runs = await Promise.all(
      Array.from({ length: 3 }, () => runOcg(['token', '--min-ttl', '7200'], s.env)),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect((await bench.sessions.getSession(s.sessionId))?.revokedAt).toBeNull();
    expect((await bench.verify(stored(s.file).access_token)).subject).toBe('user-serial');
  });

  it('a session revoked by an admin: token → invalid_grant, exit 9, session file deleted', async () => {
    const s = await signedInSession('user-revoked');
    await bench.revocation.revokeSession(s.sessionId, 'admin');
    const r = await runOcg(['token', '--min-ttl', '7200'], s.env);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe(
      `ocg: session expired or revoked: run \`ocg login ${bench.url}\` [ERR_SESSION_EXPIRED]\n`,
    );
    expect(existsSync(s.file)).toBe(false);
  });

  it('a user disabled at the IdP is refused at the next refresh (exit 9)', async () => {
    const s = await signedInSession('user-disabled');
    bench.idp.verdict = () => ({ ok: false, reason: 'disabled' });
    try {
      const r = await runOcg(['token', '--min-ttl', '7200'], s.env);
      expect(r.code).toBe(9);
      expect(r.stderr).toContain('session expired or revoked');
      expect(existsSync(s.file)).toBe(false);
    } finally {
      bench.idp.verdict = null;
    }
  });

  it('logout revokes the session at the gateway: its access token no longer verifies', async () => {
    const s = await signedInSession('user-logout');
    const r = await runOcg(['logout'], s.env);
    expect(r).toMatchObject({ code: 0, stderr: `Signed out of ${bench.url}.\n` });
    expect(existsSync(s.file)).toBe(false);
    await expect(bench.verify(s.token)).rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    expect((await bench.sessions.getSession(s.sessionId))?.revokedAt).not.toBeNull();
  });
});
