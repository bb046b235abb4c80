/**
 * Bearer authentication for every bearer endpoint (SESSION-12, SESSION-19, INFERENCE-10, INFERENCE-11).
 *
 * The credential comes from `Authorization: Bearer …` or `x-api-key` (Claude Code sends an `apiKeyHelper`'s output
 * in both; two different values are refused). A credential shaped like a JWT is verified as a gateway access token
 * (`session/access-token.ts`: only ES256, only the ring's keys, exact `iss`/`aud`, not revoked); anything else is
 * looked up among the development static tokens, when the config has any. Every refusal is
 * `401 authentication_error` with a `WWW-Authenticate: Bearer` challenge, and the message never echoes the token.
 */
import type { IncomingHttpHeaders } from 'node:http';
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
  const statics = options.staticTokens.length > 0 ? createStaticTokenAuthenticator(options.staticTokens) : null;
  const access = options.accessTokens;
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
        return verifyAccessToken(access.keyring, access.revocation, credential, {
          issuer: access.issuer,
          audience: access.audience,
          clockToleranceS: access.clockToleranceS,
        });
      }
      if (statics) {
        const p = statics.authenticate(headers);
        return p;
      }
      throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid bearer token.', { headers: INVALID });
    },
  };
}
