/**
 * Bearer authentication for every bearer endpoint (SESSION-12, SESSION-19, INFERENCE-10, INFERENCE-11).
 *
 * The credential comes from `Authorization: Bearer …` or `x-api-key` (Claude Code sends an `apiKeyHelper`'s output
 * in both; two different values are refused). A credential shaped like a JWT is verified as a gateway access token
 * (`session/access-token.ts`: only ES256, only the ring's keys, exact `iss`/`aud`, not revoked); anything else is
 * looked up among the development static tokens, when the config has any. Every refusal is
 * `401 authentication_error` with a `WWW-Authenticate: Bearer` challenge, and the message never echoes the token.
 *
 * Verified access tokens are remembered per process (bounded, until their `exp` plus the clock tolerance — exactly
 * as long as verification would accept them): the ES256 signature check is most of the cost of a request's
 * authentication (bench/session-verify.ts), and a token whose exact bytes verified once verifies again. The
 * revocation check is never skipped: a remembered token of a revoked session is refused like any other.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { decodeJwt } from 'jose';
import type { StaticTokenConfig } from '../config/load.ts';
import { GatewayError } from '../errors.ts';
import { verifyAccessToken } from '../session/access-token.ts';
import type { KeyRing } from '../session/keys.ts';
import type { Principal } from '../session/principal.ts';
import type { RevocationCheck } from '../session/revocation.ts';
import { createStaticTokenAuthenticator, presentedCredentials } from './static-tokens.ts';

export interface Authenticator {
  /** Returns the principal, or throws `ERR_UNAUTHENTICATED` (or `ERR_STORE_UNAVAILABLE`: fail closed). */
  authenticate(headers: IncomingHttpHeaders): Promise<Principal>;
}

export interface AccessTokenVerification {
  keyring: KeyRing;
  revocation: RevocationCheck;
  issuer: string;
  audience: string;
  clockToleranceS: number;
  /** Verified tokens remembered (default 10000; 0 verifies every time). */
  cacheSize?: number;
  now?: () => number;
}

/** Three base64url segments: a JWS compact serialisation (or something pretending to be one). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="ocg"' };
const INVALID = { 'www-authenticate': 'Bearer realm="ocg", error="invalid_token"' };

export function createAuthenticator(options: {
  staticTokens: readonly StaticTokenConfig[];
  /** Absent when sign-in is not configured: then only static development tokens authenticate. */
  accessTokens: AccessTokenVerification | null;
}): Authenticator {
  const statics =
    options.staticTokens.length > 0 ? createStaticTokenAuthenticator(options.staticTokens) : null;
  const access = options.accessTokens;
  const remembered = new Map<string, { principal: Principal; untilMs: number }>();
  const cacheSize = access?.cacheSize ?? 10_000;
  const now = access?.now ?? Date.now;

  async function verify(a: AccessTokenVerification, token: string): Promise<Principal> {
    const hit = remembered.get(token);
    if (hit && now() <= hit.untilMs) {
      if (hit.principal.sessionId !== null && (await a.revocation.isRevoked(hit.principal.sessionId))) {
        remembered.delete(token);
        throw new GatewayError(
          'ERR_UNAUTHENTICATED',
          'The session of this access token was revoked or has ended; sign in again.',
          { headers: INVALID },
        );
      }
      return { ...hit.principal, groups: [...hit.principal.groups] };
    }
    if (hit) remembered.delete(token);
    const principal = await verifyAccessToken(a.keyring, a.revocation, token, {
      issuer: a.issuer,
      audience: a.audience,
      clockToleranceS: a.clockToleranceS,
      ...(a.now ? { now: a.now } : {}),
    });
    const { exp } = decodeJwt(token);
    if (cacheSize > 0 && typeof exp === 'number') {
      if (remembered.size >= cacheSize) remembered.delete(remembered.keys().next().value as string);
      remembered.set(token, {
        principal: { ...principal, groups: [...principal.groups] },
        untilMs: (exp + a.clockToleranceS) * 1000,
      });
    }
    return principal;
  }

  return {
    async authenticate(headers) {
      const credentials = presentedCredentials(headers);
      if (credentials.length === 0) {
        throw new GatewayError(
          'ERR_UNAUTHENTICATED',
          'Missing credentials: send Authorization: Bearer <access token> (or x-api-key). Sign in to get one.',
          { headers: CHALLENGE },
        );
      }
      if (new Set(credentials).size > 1) {
        throw new GatewayError(
          'ERR_UNAUTHENTICATED',
          'Authorization and x-api-key carry different credentials.',
          { headers: CHALLENGE },
        );
      }
      const credential = credentials[0] as string;
      if (JWT_SHAPE.test(credential)) {
        if (!access) {
          throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid bearer token (sign-in is not configured).', {
            headers: INVALID,
          });
        }
        return verify(access, credential);
      }
      if (statics) {
        const p = statics.authenticate(headers);
        return p;
      }
      throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid bearer token.', { headers: INVALID });
    },
  };
}
