/**
 * Bearer authentication (auth/authenticate.ts): access tokens and static development tokens, and the per-process
 * memory of verified tokens, which must never outlive a token's expiry or a session's revocation.
 */
import { randomBytes } from 'node:crypto';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Authenticator, createAuthenticator } from '../src/auth/authenticate.ts';
import { GatewayError } from '../src/errors.ts';
import { silentLogger } from '../src/log/logger.ts';
import { issueAccessToken } from '../src/session/access-token.ts';
import { createKek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import { createRevocation, type Revocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager } from '../src/session/sessions.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';

const ISSUER = 'https://gateway.example.test';
const STATIC = 'tok_static_0123456789abcdefghijklmnopqrstuv';
const TTL_S = 600;

let store: Store;
let keyring: KeyRing;
let revocation: Revocation;
let sessions: SessionManager;
let clock = Date.parse('2031-01-01T00:00:00Z');
const now = () => clock;

beforeAll(async () => {
  store = await createStore('pglite:memory:', { logger: silentLogger });
  await migrate(store, { logger: silentLogger });
  const kek = createKek(randomBytes(32).toString('base64url'));
  keyring = createKeyRing(store, kek, { accessTokenTtlS: TTL_S, now });
  await keyring.refresh();
  revocation = createRevocation(store, { ttlMs: 0, now });
  sessions = createSessionManager(store, kek, { refreshTokenTtlS: 3600, now });
});
afterAll(() => store.close());

function authenticator(cacheSize?: number): Authenticator {
  return createAuthenticator({
    staticTokens: [{ token: STATIC, subject: 'dev-user', groups: ['dev'] }],
    accessTokens: {
      keyring,
      revocation,
      issuer: ISSUER,
      audience: ISSUER,
      clockToleranceS: 30,
      now,
      ...(cacheSize === undefined ? {} : { cacheSize }),
    },
  });
}

async function signedIn(): Promise<{ token: string; sessionId: string }> {
  const { sessionId } = await sessions.createSession({
    subject: `user-${randomBytes(4).toString('hex')}`,
    email: 'dev@example.test',
    name: 'Dev',
    groups: ['eng'],
    idpIssuer: 'https://idp.example.test',
    idpSubject: 'x',
    ttlS: 3600,
  });
  const session = await sessions.getSession(sessionId);
  const { token } = await issueAccessToken(
    keyring,
    { issuer: ISSUER, audience: ISSUER, ttlS: TTL_S, now },
    { subject: session?.subject ?? '', email: 'dev@example.test', name: 'Dev', groups: ['eng'], sessionId },
  );
  return { token, sessionId };
}

async function refusal(auth: Authenticator, headers: Record<string, string>): Promise<GatewayError> {
  try {
    await auth.authenticate(headers);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('createAuthenticator', () => {
  it('accepts an access token in Authorization or x-api-key, and a static token', async () => {
    const auth = authenticator();
    const { token, sessionId } = await signedIn();
    for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-api-key': token }]) {
      const p = await auth.authenticate(headers);
      expect(p).toMatchObject({ email: 'dev@example.test', groups: ['eng'], sessionId });
    }
    expect(await auth.authenticate({ authorization: `Bearer ${STATIC}` })).toMatchObject({
      subject: 'dev-user',
      groups: ['dev'],
      sessionId: null,
    });
  });

  const refusals: Array<[string, () => Promise<Record<string, string>>, string]> = [
    ['no credential', async () => ({}), 'Missing credentials'],
    [
      'two different credentials',
      async () => ({ authorization: `Bearer ${(await signedIn()).token}`, 'x-api-key': STATIC }),
      'different credentials',
    ],
    [
      'alg none',
      async () => ({
        authorization: `Bearer ${new UnsecuredJWT({ sub: 'x', sid: 'y' }).setIssuer(ISSUER).setAudience(ISSUER).encode()}`,
      }),
      'access token',
    ],
    [
      'an unknown opaque token',
      async () => ({ authorization: `Bearer ocg_${'z'.repeat(40)}` }),
      'Invalid bearer',
    ],
  ];
  it.each(refusals)('refuses %s with 401', async (_name, headers, message) => {
    const err = await refusal(authenticator(), await headers());
    expect(err.status).toBe(401);
    expect(err.type).toBe('authentication_error');
    expect(err.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(err.message).toContain(message);
  });

  it('refuses a remembered token once its session is revoked', async () => {
    const auth = authenticator();
    const { token, sessionId } = await signedIn();
    await auth.authenticate({ authorization: `Bearer ${token}` });
    await revocation.revokeSession(sessionId, 'test');
    const err = await refusal(auth, { authorization: `Bearer ${token}` });
    expect(err.message).toContain('revoked');
  });

  it('refuses a remembered token past its expiry plus the tolerance, as verification would', async () => {
    const auth = authenticator();
    const { token } = await signedIn();
    await auth.authenticate({ authorization: `Bearer ${token}` });
    clock += (TTL_S + 29) * 1000;
    await auth.authenticate({ authorization: `Bearer ${token}` });
    clock += 2000;
    const err = await refusal(auth, { authorization: `Bearer ${token}` });
    expect(err.status).toBe(401);
  });

  it('remembers only the exact bytes that verified: a token altered after a success is refused', async () => {
    const auth = authenticator();
    const { token } = await signedIn();
    await auth.authenticate({ authorization: `Bearer ${token}` });
    const [h, p, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...claims, groups: ['admins'] })).toString('base64url')}.${sig}`;
    const err = await refusal(auth, { authorization: `Bearer ${altered}` });
    expect(err.message).toContain('signature');
  });

  it('stays bounded: with a memory of one token, both tokens still authenticate', async () => {
    const auth = authenticator(1);
    const a = await signedIn();
    const b = await signedIn();
    for (const t of [a, b, a, b]) {
      expect((await auth.authenticate({ authorization: `Bearer ${t.token}` })).sessionId).toBe(t.sessionId);
    }
  });
});
