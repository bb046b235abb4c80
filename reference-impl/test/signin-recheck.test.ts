/**
 * The IdP re-check behind the refresh grant (SESSION-15), against the kit's mock IdP: a session signed in through
 * the real browser flow is re-checked with its IdP refresh token; group changes show, the rotated IdP refresh token
 * is stored, a disabled or removed user is refused, an unreachable IdP is an error (not a refusal), and an answer
 * that fails validation is never trusted.
 */
import { decodeJwt, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MockIdpUser, MockIdpUserInput } from '../../conformance/src/mocks/idp/index.ts';
import { GatewayError } from '../src/errors.ts';
import type { SessionRecord } from '../src/session/sessions.ts';
import { createIdpRecheck, type IdpRecheck } from '../src/signin/recheck.ts';
import { type Harness, signInWithBrowser, startHarness } from './signin-helpers.ts';

let h: Harness;
let idp: IdpRecheck;

beforeAll(async () => {
  h = await startHarness({ seed: 31337 });
  idp = createIdpRecheck({ oidc: h.oidc, sessions: h.sessions, logger: h.log.logger, rp: h.rp });
});
afterAll(() => h.close());
beforeEach(() => h.setIdpFetch(undefined));

/** Signs `input` in through the browser flow; returns the user and their gateway session. */
async function signedIn(
  input: MockIdpUserInput = {},
): Promise<{ user: MockIdpUser; session: SessionRecord }> {
  const user = h.idp.createUser(input);
  const device = await h.startDevice();
  await signInWithBrowser(h, device.userCode, user);
  const poll = await h.devices.pollDeviceAuthorization(device.deviceCode);
  if (poll.status !== 'approved') throw new Error(`sign-in failed: ${poll.status}`);
  const session = await h.sessions.getSession(poll.sessionId);
  if (!session) throw new Error('no session');
  return { user, session };
}

describe('IdP re-check on refresh', () => {
  it('confirms an active user and stores the rotated IdP refresh token', async () => {
    const { user, session } = await signedIn({ groups: ['engineering'] });
    const before = await h.sessions.getIdpRefreshToken(session.id);
    const result = await idp.recheck(session);
    expect(result).toEqual({
      ok: true,
      identity: { subject: user.subject, email: user.email, name: user.name, groups: ['engineering'] },
    });
    const after = await h.sessions.getIdpRefreshToken(session.id);
    expect(after).toBeTruthy();
    expect(after).not.toBe(before); // the mock rotates refresh tokens on every use
    // It keeps working with the stored, rotated token (the old one is dead at the IdP).
    expect((await idp.recheck(session)).ok).toBe(true);
    expect((await idp.recheck(session)).ok).toBe(true);
  });

  it('reports group and profile changes made at the IdP, and records them on the session', async () => {
    const { user, session } = await signedIn({ groups: ['engineering'] });
    h.idp.setGroups(user.subject, ['engineering', 'admins']);
    h.idp.updateUser(user.subject, { name: 'Renamed Person' });
    const result = await idp.recheck(session);
    expect(result).toMatchObject({
      ok: true,
      identity: { groups: ['engineering', 'admins'], name: 'Renamed Person' },
    });
    expect(await h.sessions.getSession(session.id)).toMatchObject({
      groups: ['engineering', 'admins'],
      name: 'Renamed Person',
    });
  });

  it('refuses a user disabled at the IdP (its refresh grant is invalid_grant), naming no token', async () => {
    const { user, session } = await signedIn();
    h.idp.disableUser(user.subject);
    const result = await idp.recheck(session);
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error('unreachable');
    expect(result.reason).toContain('invalid_grant');
    expect(result.reason).not.toMatch(/[A-Za-z0-9_-]{40,}/); // no token in the reason
  });

  it('refuses a user removed at the IdP', async () => {
    const { user, session } = await signedIn();
    h.idp.deleteUser(user.subject);
    expect((await idp.recheck(session)).ok).toBe(false);
  });

  it('applies the sign-in claim rules again (a user who left the allowed domain is refused)', async () => {
    const { user, session } = await signedIn({ email: 'mover@corp.example' });
    const saved = [...h.oidc.allowedEmailDomains];
    h.oidc.allowedEmailDomains = ['corp.example'];
    try {
      expect((await idp.recheck(session)).ok).toBe(true);
      h.idp.updateUser(user.subject, { email: 'mover@elsewhere.example' });
      const result = await idp.recheck(session);
      expect(result).toEqual({
        ok: false,
        reason: 'Accounts of the domain elsewhere.example may not sign in to this gateway.',
      });
      // The rotated IdP token was stored anyway (the one before it is dead at the IdP).
      h.oidc.allowedEmailDomains = saved;
      expect((await idp.recheck(session)).ok).toBe(true);
    } finally {
      h.oidc.allowedEmailDomains = saved;
    }
  });

  it('refuses a session without an IdP refresh token (nothing to re-check with: fail closed)', async () => {
    const { sessionId } = await h.sessions.createPendingSession({
      subject: 'x',
      email: null,
      name: null,
      groups: [],
      idpIssuer: h.idp.issuer,
      idpSubject: 'x',
      ttlS: 600,
    });
    const session = (await h.sessions.getSession(sessionId)) as SessionRecord;
    expect(await idp.recheck(session)).toEqual({
      ok: false,
      reason: 'the session has no identity provider refresh token to re-check with',
    });
  });

  it('refuses a session of another IdP, and every session when sign-in is not configured', async () => {
    const { session } = await signedIn();
    expect((await idp.recheck({ ...session, idpIssuer: 'https://other-idp.example' })).ok).toBe(false);
    const none = createIdpRecheck({ oidc: undefined, sessions: h.sessions, logger: h.log.logger });
    expect((await none.recheck(session)).ok).toBe(false);
  });

  it('throws ERR_UPSTREAM_UNREACHABLE (no verdict) when the IdP cannot be reached, and the session survives it', async () => {
    const { session } = await signedIn();
    h.setIdpFetch(async () => {
      throw new TypeError('fetch failed');
    });
    const err = await idp.recheck(session).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('ERR_UPSTREAM_UNREACHABLE');
    h.setIdpFetch(async (url, init) =>
      url.endsWith('/token')
        ? new Response('{"error":"server_error"}', {
            status: 500,
            headers: { 'content-type': 'application/json' },
          })
        : fetch(url, init),
    );
    expect(((await idp.recheck(session).catch((e: unknown) => e)) as GatewayError).code).toBe(
      'ERR_UPSTREAM_UNREACHABLE',
    );
    h.setIdpFetch(undefined);
    expect((await idp.recheck(session)).ok).toBe(true);
  });

  it('never trusts a refreshed ID token that fails validation (signature, subject)', async () => {
    const { session } = await signedIn();
    const rs = h.idp.signingKeys.find((k) => k.alg === 'RS256');
    if (!rs) throw new Error('no RS256 key');
    const key = await importJWK(rs, 'RS256');
    const tamper = (change: (t: string) => Promise<string>) => async (url: string, init: RequestInit) => {
      const response = await fetch(url, init);
      if (!url.endsWith('/token') || !response.ok) return response;
      const body = (await response.json()) as Record<string, unknown>;
      body.id_token = await change(body.id_token as string);
      return new Response(JSON.stringify(body), { status: 200, headers: response.headers });
    };
    h.setIdpFetch(
      tamper(async (t) => {
        const [head, , sig] = t.split('.');
        const payload = Buffer.from(JSON.stringify({ ...decodeJwt(t), groups: ['admins'] })).toString(
          'base64url',
        );
        return `${head}.${payload}.${sig}`;
      }),
    );
    const forged = await idp.recheck(session);
    expect(forged.ok).toBe(false);
    // (That refusal burnt the rotated IdP token — harmless, as the refusal ends the session.) A fresh session:
    h.setIdpFetch(undefined);
    const { session: second } = await signedIn();
    h.setIdpFetch(
      tamper((t) =>
        new SignJWT({ ...decodeJwt(t), sub: 'someone-else' })
          .setProtectedHeader({ alg: 'RS256', kid: rs.kid as string })
          .sign(key),
      ),
    );
    const otherSubject = await idp.recheck(second);
    expect(otherSubject).toEqual({ ok: false, reason: 'the identity provider answered for another subject' });
  });
});
