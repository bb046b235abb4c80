/**
 * The OAuth endpoints as a client sees them (src/handlers/oauth.ts on the session modules, PGlite): RFC 8414
 * metadata and /.well-known/ocg-configuration (DISCOVERY-4/5), device authorization (SESSION-1), the token
 * endpoint's device and refresh grants with every RFC 6749 error (SESSION-2, -4, -13 … -16), and RFC 7009
 * revocation (SESSION-17, -18).
 */
import { loadOpenApi } from '@ocg/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implementedProfiles } from '../src/handlers/oauth.ts';
import { createRevocation } from '../src/session/revocation.ts';
import {
  ACCESS_TOKEN_TTL_S,
  DEFAULT_IDENTITY,
  EXPIRES_IN_S,
  FEATURES,
  INTERVAL_S,
  type OAuthBench,
  type SendResult,
  send,
  startOAuthBench,
} from './oauth-harness.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

let bench: OAuthBench;
/** Every secret the tests saw: none may appear in the log. */
const secrets: string[] = [];

beforeAll(async () => {
  bench = await startOAuthBench({ revocationTtlMs: 300 });
});
afterAll(async () => {
  await bench?.close();
});

function post(path: string, body: string | Record<string, string>, headers: Record<string, string> = FORM) {
  // Strings go out as latin1 so a test can send a byte that is not UTF-8 ('\xff'); the forms here are ASCII.
  const text =
    typeof body === 'string'
      ? Buffer.from(body, 'latin1')
      : Buffer.from(new URLSearchParams(body).toString());
  return send(`${bench.url}${path}`, { method: 'POST', headers, body: text });
}

const token = (fields: Record<string, string> | string, headers?: Record<string, string>) =>
  post('/oauth/token', fields, headers);

/** What a bearer endpoint says about an access token: its principal, or the 401. */
async function bearer(accessToken: string): Promise<SendResult> {
  return send(`${bench.url}/v1/models`, { headers: { authorization: `Bearer ${accessToken}` } });
}

async function expectBearerRefused(accessToken: string): Promise<void> {
  const r = await bearer(accessToken);
  expect(r.status).toBe(401);
  expect(json(r)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
}

function json(r: SendResult): Record<string, unknown> {
  expect(r.headers['content-type']).toBe('application/json');
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** Asserts an RFC 6749 error answer with `no-store` and returns its description. */
function expectOAuthError(r: SendResult, status: number, error: string, description?: RegExp): string {
  expect({ status: r.status, error: json(r).error }).toEqual({ status, error });
  const body = json(r);
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(body.error_description).toEqual(expect.any(String));
  if (description) expect(body.error_description).toMatch(description);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers.pragma).toBe('no-cache');
  return body.error_description as string;
}

interface Started {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

async function startDevice(fields: Record<string, string> = {}): Promise<Started> {
  const r = await post('/oauth/device_authorization', fields);
  expect(r.status).toBe(200);
  const started = json(r) as unknown as Started;
  secrets.push(started.device_code, started.user_code);
  return started;
}

interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope?: string;
}

function tokensOf(r: SendResult): Tokens {
  expect(r.status, r.body).toBe(200);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers.pragma).toBe('no-cache');
  const t = json(r) as unknown as Tokens;
  secrets.push(t.access_token, t.refresh_token);
  return t;
}

/** A signed-in session: device flow through to its first tokens. */
async function signIn(
  identity: Partial<typeof DEFAULT_IDENTITY> = {},
): Promise<Tokens & { sessionId: string }> {
  const started = await startDevice();
  const sessionId = await bench.approve(started.user_code, identity);
  bench.advance(INTERVAL_S);
  return {
    ...tokensOf(await token({ grant_type: DEVICE_GRANT, device_code: started.device_code })),
    sessionId,
  };
}

describe('discovery', () => {
  it('GET /.well-known/oauth-authorization-server answers RFC 8414 metadata, same-origin, device flow only', async () => {
    const version = ((await loadOpenApi()).info as { version: string }).version;
    const r = await send(`${bench.url}/.well-known/oauth-authorization-server`);
    expect(r.status).toBe(200);
    const m = json(r);
    expect(m).toEqual({
      issuer: bench.url,
      device_authorization_endpoint: `${bench.url}/oauth/device_authorization`,
      token_endpoint: `${bench.url}/oauth/token`,
      revocation_endpoint: `${bench.url}/oauth/revoke`,
      grant_types_supported: [DEVICE_GRANT, 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      response_types_supported: [],
      scopes_supported: ['gateway'],
      ocg_protocol_version: version,
    });
    for (const key of ['device_authorization_endpoint', 'token_endpoint', 'revocation_endpoint']) {
      expect(new URL(m[key] as string).origin).toBe(bench.url);
    }
    expect(m).not.toHaveProperty('authorization_endpoint');
    expect(m).not.toHaveProperty('code_challenge_methods_supported');
  });

  it('GET /.well-known/ocg-configuration lists the protocol version, features, profiles and endpoints', async () => {
    const version = ((await loadOpenApi()).info as { version: string }).version;
    const r = await send(`${bench.url}/.well-known/ocg-configuration`);
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({
      protocol_version: version,
      features: FEATURES,
      profiles: ['core'],
      endpoints: {
        authorization_server_metadata: `${bench.url}/.well-known/oauth-authorization-server`,
        device_authorization: `${bench.url}/oauth/device_authorization`,
        token: `${bench.url}/oauth/token`,
        revocation: `${bench.url}/oauth/revoke`,
        verification: `${bench.url}/device`,
        managed_settings: `${bench.url}/managed/settings`,
        models: `${bench.url}/v1/models`,
        messages: `${bench.url}/v1/messages`,
        protocol: `${bench.url}/protocol`,
      },
    });
  });
});

describe('implemented profiles (from requirements.yaml)', () => {
  const core = [
    'inference',
    'count-tokens',
    'protocol-document',
    'ocg-configuration',
    'sign-in',
    'managed-settings',
    'models',
  ];
  it.each([
    { what: 'nothing', features: [], profiles: [] },
    { what: 'core without models', features: core.filter((f) => f !== 'models'), profiles: [] },
    { what: 'core', features: core, profiles: ['core'] },
    { what: 'core + health', features: [...core, 'health'], profiles: ['core', 'operations'] },
    { what: 'admin without core', features: ['admin'], profiles: [] },
    { what: 'everything', features: [...core, 'health', 'admin'], profiles: ['core', 'operations', 'admin'] },
  ])('$what → $profiles', async ({ features, profiles }) => {
    expect(await implementedProfiles(features)).toEqual(profiles);
  });
});

describe('device authorization', () => {
  const accepted: Array<[what: string, body: string, headers: Record<string, string>]> = [
    ['an empty form (what Claude Code 2.1.19x posts)', '', FORM],
    [
      'surface=claude_code (what Claude Code 2.1.332 posts): unknown parameters are ignored',
      'surface=claude_code',
      FORM,
    ],
    ['a repeated unknown parameter', 'resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb', FORM],
    ['an empty body without content-type', '', {}],
    ['client_id and scope', 'client_id=ocg-cli&scope=gateway', FORM],
    ['empty parameters (treated as absent)', 'client_id=&scope=', FORM],
    ['a charset parameter', '', { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }],
  ];
  it.each(accepted)('accepts %s', async (_what, body, headers) => {
    const r = await post('/oauth/device_authorization', body, headers);
    expect(r.status, r.body).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers.pragma).toBe('no-cache');
    const d = json(r) as unknown as Started;
    secrets.push(d.device_code, d.user_code);
    expect(Object.keys(d).sort()).toEqual([
      'device_code',
      'expires_in',
      'interval',
      'user_code',
      'verification_uri',
      'verification_uri_complete',
    ]);
    expect(d.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(d.device_code, 'base64url')).toHaveLength(32);
    expect(d.user_code).toMatch(USER_CODE);
    expect(d.verification_uri).toBe(`${bench.url}/device`);
    expect(d.verification_uri_complete).toBe(`${bench.url}/device?user_code=${d.user_code}`);
    expect(d.expires_in).toBe(EXPIRES_IN_S);
    expect(d.interval).toBe(INTERVAL_S);
  });

  it('gives every request its own codes', async () => {
    const [a, b] = await Promise.all([startDevice(), startDevice()]);
    expect(a?.device_code).not.toBe(b?.device_code);
    expect(a?.user_code).not.toBe(b?.user_code);
  });

  const refused: Array<
    [what: string, body: string, headers: Record<string, string>, error: string, desc: RegExp]
  > = [
    ['a repeated parameter', 'client_id=a&client_id=b', FORM, 'invalid_request', /"client_id" is repeated/],
    [
      'a JSON body',
      '{"client_id":"x"}',
      { 'content-type': 'application/json' },
      'invalid_request',
      /x-www-form/,
    ],
    ['a text/plain body', 'client_id=x', { 'content-type': 'text/plain' }, 'invalid_request', /x-www-form/],
    ['a body without content-type', 'client_id=x', {}, 'invalid_request', /x-www-form/],
    ['a body that is not UTF-8', 'client_id=\xff', FORM, 'invalid_request', /not valid UTF-8/],
    [
      'a non-UTF-8 charset',
      'client_id=x',
      { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' },
      'invalid_request',
      /UTF-8/,
    ],
    ['an unsupported scope', 'scope=gateway%20admin', FORM, 'invalid_scope', /"admin"/],
    ['a malformed scope', 'scope=a%20%20b', FORM, 'invalid_request', /"scope" is malformed/],
    ['a malformed client_id', 'client_id=%0A', FORM, 'invalid_request', /"client_id" is malformed/],
  ];
  it.each(refused.map(([what, body, headers, error, desc]) => ({ what, body, headers, error, desc })))(
    'refuses $what → 400 $error',
    async ({ body, headers, error, desc }) => {
      expectOAuthError(await post('/oauth/device_authorization', body, headers), 400, error, desc);
    },
  );
});

describe('token endpoint: parameter errors', () => {
  const cases: Array<
    [what: string, body: string, headers: Record<string, string>, status: number, error: string]
  > = [
    ['no grant_type', '', FORM, 400, 'invalid_request'],
    ['an empty grant_type', 'grant_type=', FORM, 400, 'invalid_request'],
    [
      'a repeated grant_type',
      'grant_type=refresh_token&grant_type=refresh_token',
      FORM,
      400,
      'invalid_request',
    ],
    [
      'an unknown grant_type',
      'grant_type=password&username=a&password=b',
      FORM,
      400,
      'unsupported_grant_type',
    ],
    [
      'the authorization_code grant',
      'grant_type=authorization_code&code=x',
      FORM,
      400,
      'unsupported_grant_type',
    ],
    [
      'a JSON body',
      JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'x' }),
      { 'content-type': 'application/json' },
      400,
      'invalid_request',
    ],
    [
      'a device grant without device_code',
      `grant_type=${encodeURIComponent(DEVICE_GRANT)}`,
      FORM,
      400,
      'invalid_request',
    ],
    [
      'a device grant with a repeated device_code',
      `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=a&device_code=b`,
      FORM,
      400,
      'invalid_request',
    ],
    [
      'a device code that is not one',
      `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=nope`,
      FORM,
      400,
      'invalid_grant',
    ],
    [
      'a well-formed device code the gateway never issued',
      `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=${'A'.repeat(43)}`,
      FORM,
      400,
      'invalid_grant',
    ],
    ['a refresh grant without refresh_token', 'grant_type=refresh_token', FORM, 400, 'invalid_request'],
    [
      'a refresh token that is not one',
      'grant_type=refresh_token&refresh_token=nope',
      FORM,
      401,
      'invalid_grant',
    ],
    [
      'a well-formed refresh token the gateway never issued',
      `grant_type=refresh_token&refresh_token=${'B'.repeat(43)}`,
      FORM,
      401,
      'invalid_grant',
    ],
  ];
  it.each(cases.map(([what, body, headers, status, error]) => ({ what, body, headers, status, error })))(
    '$what → $status $error',
    async ({ body, headers, status, error }) => {
      expectOAuthError(await token(body, headers), status, error);
    },
  );

  it('says clearly that a JSON body must be a form', async () => {
    const r = await token('{"grant_type":"refresh_token"}', { 'content-type': 'application/json' });
    expectOAuthError(r, 400, 'invalid_request', /must be application\/x-www-form-urlencoded/);
  });

  it('ignores parameters it does not know (RFC 6749 §3.1)', async () => {
    const r = await token({ grant_type: 'refresh_token', refresh_token: 'C'.repeat(43), extra: '1' });
    expectOAuthError(r, 401, 'invalid_grant');
  });
});

describe('token endpoint: device grant', () => {
  const poll = (deviceCode: string, extra: Record<string, string> = {}) =>
    token({ grant_type: DEVICE_GRANT, device_code: deviceCode, ...extra });

  it('answers authorization_pending, then slow_down with the interval growing by 5 s per early poll', async () => {
    const d = await startDevice();
    expectOAuthError(await poll(d.device_code), 400, 'authorization_pending');
    // At once again: too fast → interval 5 + 5.
    expectOAuthError(await poll(d.device_code), 400, 'slow_down', /10 seconds/);
    // 5 s later is still too fast for the new 10 s interval → 15.
    bench.advance(5);
    expectOAuthError(await poll(d.device_code), 400, 'slow_down', /15 seconds/);
    bench.advance(15);
    expectOAuthError(await poll(d.device_code), 400, 'authorization_pending');
    bench.advance(10);
    expectOAuthError(await poll(d.device_code), 400, 'slow_down', /20 seconds/);
  });

  it('issues tokens once after approval; the device code is single use', async () => {
    const d = await startDevice({ scope: 'gateway' });
    expectOAuthError(await poll(d.device_code), 400, 'authorization_pending');
    const sessionId = await bench.approve(d.user_code);
    bench.advance(INTERVAL_S);
    const t = tokensOf(await poll(d.device_code));
    expect(Object.keys(t).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    expect(t).toMatchObject({ token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_S, scope: 'gateway' });
    expect(t.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await bench.verify(t.access_token)).toEqual({ ...DEFAULT_IDENTITY, sessionId });
    const used = await bearer(t.access_token);
    expect(used.status, used.body).toBe(200);
    expect(json(used)).toEqual({ principal: { ...DEFAULT_IDENTITY, sessionId } });

    bench.advance(INTERVAL_S);
    expectOAuthError(await poll(d.device_code), 400, 'invalid_grant', /already used/);
    bench.advance(INTERVAL_S);
    expectOAuthError(await poll(d.device_code), 400, 'invalid_grant');
  });

  it('omits scope when none was asked for', async () => {
    const t = await signIn();
    expect(t).not.toHaveProperty('scope');
  });

  it('answers access_denied when the user denied', async () => {
    const d = await startDevice();
    expect(await bench.devices.deny(d.user_code)).toBe(true);
    expectOAuthError(await poll(d.device_code), 400, 'access_denied');
  });

  it('answers expired_token once expires_in has passed, approved or not', async () => {
    const pending = await startDevice();
    const approved = await startDevice();
    await bench.approve(approved.user_code);
    bench.advance(EXPIRES_IN_S + 1);
    expectOAuthError(await poll(pending.device_code), 400, 'expired_token');
    expectOAuthError(await poll(approved.device_code), 400, 'expired_token');
  });

  it('refuses a device code presented by another client, and the code is spent', async () => {
    const d = await startDevice({ client_id: 'ocg-cli' });
    const sessionId = await bench.approve(d.user_code);
    bench.advance(INTERVAL_S);
    expectOAuthError(
      await poll(d.device_code, { client_id: 'someone-else' }),
      400,
      'invalid_grant',
      /another client/,
    );
    bench.advance(INTERVAL_S);
    expectOAuthError(await poll(d.device_code, { client_id: 'ocg-cli' }), 400, 'invalid_grant');
    expect((await bench.sessions.getSession(sessionId))?.revokedAt).not.toBeNull();
  });

  it('refuses an approval whose session was revoked before the poll', async () => {
    const d = await startDevice();
    const sessionId = await bench.approve(d.user_code);
    await bench.revocation.revokeSession(sessionId, 'admin');
    bench.advance(INTERVAL_S);
    expectOAuthError(await poll(d.device_code), 400, 'invalid_grant', /revoked or has ended/);
  });
});

describe('token endpoint: refresh grant', () => {
  const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
    token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });

  it('rotates: a fresh access token and a new refresh token, with the identity the IdP gives now', async () => {
    const first = await signIn();
    bench.idp.verdict = (s) => ({
      ok: true,
      identity: { email: 'ada@new.example.com', name: s.name, groups: ['eng', 'admins'] },
    });
    try {
      const calls = bench.idp.calls;
      const second = tokensOf(await refresh(first.refresh_token));
      expect(bench.idp.calls).toBe(calls + 1);
      expect(second.token_type).toBe('Bearer');
      expect(second.expires_in).toBe(ACCESS_TOKEN_TTL_S);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.access_token).not.toBe(first.access_token);
      expect(await bench.verify(second.access_token)).toEqual({
        ...DEFAULT_IDENTITY,
        email: 'ada@new.example.com',
        groups: ['eng', 'admins'],
        sessionId: first.sessionId,
      });
      // And again with the rotated token.
      const third = tokensOf(await refresh(second.refresh_token, { scope: 'gateway' }));
      expect(third.scope).toBe('gateway');
    } finally {
      bench.idp.verdict = null;
    }
  });

  it('treats reuse of a rotated refresh token as theft: the whole session is revoked', async () => {
    const first = await signIn();
    // Another replica that has already seen the session as live.
    const replica = createRevocation(bench.store, { ttlMs: 300 });
    await bench.verify(first.access_token, replica);
    const second = tokensOf(await refresh(first.refresh_token));
    await bench.verify(second.access_token, replica);

    const calls = bench.idp.calls;
    expectOAuthError(await refresh(first.refresh_token), 401, 'invalid_grant', /already used/);
    expect(bench.idp.calls).toBe(calls); // a spent token never reaches the IdP
    expectOAuthError(await refresh(second.refresh_token), 401, 'invalid_grant', /revoked/);
    expect(await bench.sessions.getSession(first.sessionId)).toMatchObject({
      revokedReason: 'refresh_token_reuse',
    });
    // This replica knows at once; another one within its cache TTL.
    await expectBearerRefused(second.access_token);
    await new Promise((r) => setTimeout(r, 350));
    await expect(bench.verify(second.access_token, replica)).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    });
    await expect(bench.verify(first.access_token, replica)).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    });
  });

  it('ends the session when the IdP refuses the user: 401 invalid_grant, reason idp_user_disabled', async () => {
    const first = await signIn();
    bench.idp.verdict = () => ({ ok: false, reason: 'user is deactivated' });
    try {
      const r = await refresh(first.refresh_token);
      expectOAuthError(r, 401, 'invalid_grant', /sign in again/);
      expect(r.body).not.toContain('deactivated');
    } finally {
      bench.idp.verdict = null;
    }
    expect(await bench.sessions.getSession(first.sessionId)).toMatchObject({
      revokedReason: 'idp_user_disabled',
    });
    await expectBearerRefused(first.access_token);
    // The IdP is back to "ok", but the session is gone.
    expectOAuthError(await refresh(first.refresh_token), 401, 'invalid_grant');
  });

  it('keeps the refresh token valid when the IdP cannot be reached (503), so the client can retry', async () => {
    const first = await signIn();
    bench.idp.verdict = () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:9');
    };
    try {
      const r = await refresh(first.refresh_token);
      expectOAuthError(r, 503, 'temporarily_unavailable', /identity provider/);
      expect(r.headers['retry-after']).toBe('5');
    } finally {
      bench.idp.verdict = null;
    }
    const second = tokensOf(await refresh(first.refresh_token));
    expect((await bench.verify(second.access_token)).sessionId).toBe(first.sessionId);
  });

  it('refuses an unsupported scope without spending the refresh token', async () => {
    const first = await signIn();
    expectOAuthError(await refresh(first.refresh_token, { scope: 'admin' }), 400, 'invalid_scope');
    tokensOf(await refresh(first.refresh_token));
  });

  it('refuses a refresh token of a revoked session', async () => {
    const first = await signIn();
    await bench.revocation.revokeSession(first.sessionId, 'admin');
    expectOAuthError(await refresh(first.refresh_token), 401, 'invalid_grant', /revoked/);
  });
});

describe('revocation endpoint (RFC 7009)', () => {
  const revoke = (fields: Record<string, string> | string, headers?: Record<string, string>) =>
    post('/oauth/revoke', fields, headers);

  function expectRevoked(r: SendResult): void {
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe('');
    expect(r.headers['cache-control']).toBe('no-store');
  }

  it.each([
    ['without a hint', {}],
    ['with the right hint', { token_type_hint: 'refresh_token' }],
    ['with the wrong hint', { token_type_hint: 'access_token' }],
  ])('a refresh token ends its session and its access tokens (%s)', async (_what, hint) => {
    const t = await signIn();
    expectRevoked(await revoke({ token: t.refresh_token, ...hint }));
    expect(await bench.sessions.getSession(t.sessionId)).toMatchObject({ revokedReason: 'logout' });
    await expectBearerRefused(t.access_token);
    expectOAuthError(
      await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token }),
      401,
      'invalid_grant',
    );
  });

  it('an access token ends its session too', async () => {
    const t = await signIn();
    expectRevoked(await revoke({ token: t.access_token, token_type_hint: 'access_token' }));
    expect(await bench.sessions.getSession(t.sessionId)).toMatchObject({ revokedReason: 'logout' });
    await expectBearerRefused(t.access_token);
    expectOAuthError(
      await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token }),
      401,
      'invalid_grant',
    );
  });

  it.each([
    ['an unknown refresh token', { token: 'D'.repeat(43) }],
    ['garbage', { token: 'not a token at all' }],
    ['a JWT the gateway did not sign', { token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }],
    ['an unknown hint', { token: 'E'.repeat(43), token_type_hint: 'id_token' }],
  ])('%s → 200 anyway', async (_what, fields) => {
    expectRevoked(await revoke(fields));
  });

  it('revoking twice is fine', async () => {
    const t = await signIn();
    expectRevoked(await revoke({ token: t.refresh_token }));
    expectRevoked(await revoke({ token: t.refresh_token }));
    expectRevoked(await revoke({ token: t.access_token }));
  });

  it.each([
    ['no token', '', FORM],
    ['an empty token', 'token=', FORM],
    ['a repeated token', 'token=a&token=b', FORM],
    ['a JSON body', '{"token":"x"}', { 'content-type': 'application/json' }],
  ])('%s → 400 invalid_request', async (_what, body, headers) => {
    expectOAuthError(await revoke(body, headers), 400, 'invalid_request');
  });
});

describe('logging', () => {
  it('never logs a device code, user code, access token or refresh token', () => {
    expect(secrets.length).toBeGreaterThan(20);
    const text = bench.log.lines.join('\n');
    for (const s of secrets) expect(text.includes(s), 'a secret reached the log').toBe(false);
    // The log still says what happened.
    expect(bench.log.records().some((r) => r.msg === 'tokens issued')).toBe(true);
  });
});

describe('a gateway without sign-in configured', () => {
  let plain: OAuthBench;
  beforeAll(async () => {
    plain = await startOAuthBench({ signIn: false });
  });
  afterAll(async () => {
    await plain?.close();
  });

  it('still describes itself', async () => {
    const r = await send(`${plain.url}/.well-known/ocg-configuration`);
    expect(r.status).toBe(200);
    expect(json(r)).toMatchObject({ features: FEATURES });
  });

  it('has no authorization server metadata (404 in the Anthropic envelope)', async () => {
    const r = await send(`${plain.url}/.well-known/oauth-authorization-server`);
    expect(r.status).toBe(404);
    expect(json(r)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it.each([
    ['/oauth/device_authorization', ''],
    ['/oauth/token', `grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=x`],
    ['/oauth/revoke', 'token=x'],
  ])('POST %s → 404 invalid_request', async (path, body) => {
    const r = await send(`${plain.url}${path}`, { method: 'POST', headers: FORM, body });
    expectOAuthError(r, 404, 'invalid_request', /Sign-in is not configured/);
  });
});
