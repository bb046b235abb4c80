/**
 * Access tokens: short-lived JWTs (RFC 9068 `typ: at+jwt`) the gateway signs with its active ES256 key, carrying
 * the principal (sub, email, name, groups) and the session id (`sid`), so a request needs no database read to be
 * authenticated beyond the cached revocation check.
 *
 * Verification accepts only what the gateway issues: algorithm ES256 (so `alg: none`, HS256 keyed with the public
 * key and every other algorithm are refused before any key is looked up), a `kid` of the gateway's key ring, the
 * configured `iss` and `aud`, `typ: at+jwt`, `exp`/`nbf` within `clockToleranceS`, the claims `sub`, `sid`, `iat`,
 * `exp`, `jti` present, and a session that is not revoked. Every refusal is `ERR_UNAUTHENTICATED` (401
 * `authentication_error`) with a message saying what is wrong, never echoing the token.
 */
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { GatewayError } from '../errors.ts';
import { ACCESS_TOKEN_ALG, type KeyRing } from './keys.ts';
import type { Principal } from './principal.ts';
import type { RevocationCheck } from './revocation.ts';
import { type Clock, randomToken, systemClock } from './util.ts';

export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Longer than any token the gateway issues; longer input is refused before it is parsed. */
const MAX_TOKEN_LENGTH = 16_384;
const INVALID_TOKEN = { 'www-authenticate': 'Bearer realm="ocg", error="invalid_token"' };

export interface IssueOptions {
  issuer: string;
  audience: string;
  ttlS: number;
  now?: Clock;
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
  /** Tolerance for `exp` and `nbf`. Default 30. */
  clockToleranceS?: number;
  now?: Clock;
}

/** Claims of a gateway access token. */
export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  sid: string;
  email?: string;
  name?: string;
  groups: string[];
}

/**
 * @example
 * const { token, expiresIn } = await issueAccessToken(keyring, { issuer, audience, ttlS: 3600 }, principal);
 */
export async function issueAccessToken(
  keyring: KeyRing,
  options: IssueOptions,
  principal: Omit<Principal, 'sessionId'> & { sessionId: string },
): Promise<{ token: string; expiresIn: number }> {
  const key = await keyring.activeSigningKey();
  const iat = Math.floor((options.now ?? systemClock)() / 1000);
  const claims: Record<string, unknown> = { sid: principal.sessionId, groups: [...principal.groups] };
  if (principal.email !== null) claims.email = principal.email;
  if (principal.name !== null) claims.name = principal.name;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: key.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(principal.subject)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + options.ttlS)
    .setJti(randomToken(16))
    .sign(key.privateKey);
  return { token, expiresIn: options.ttlS };
}

function refuse(message: string, cause?: unknown): GatewayError {
  return new GatewayError('ERR_UNAUTHENTICATED', message, { headers: INVALID_TOKEN, cause });
}

class UnknownKey extends Error {}

function explain(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof UnknownKey) {
    return refuse(
      'The access token is signed by a key this gateway does not know or no longer accepts.',
      err,
    );
  }
  if (err instanceof errors.JWTExpired) return refuse('The access token has expired.', err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return refuse(`The access token has no "${err.claim}" claim.`, err);
    if (err.claim === 'nbf') return refuse('The access token is not valid yet.', err);
    if (err.claim === 'iat') return refuse('The access token has an invalid "iat" claim.', err);
    return refuse(`The access token's "${err.claim}" is not the one this gateway issues.`, err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return refuse(`The access token's algorithm is not accepted (only ${ACCESS_TOKEN_ALG}).`, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return refuse('The access token signature is invalid.', err);
  }
  return refuse('The access token is malformed.', err);
}

function stringOrNull(payload: JWTPayload, claim: string): string | null {
  const v = payload[claim];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw refuse(`The access token's "${claim}" claim is not a string.`);
  return v;
}

/**
 * Verifies a gateway access token and returns its principal, or throws `ERR_UNAUTHENTICATED`.
 * Store failures of the revocation check surface as `ERR_STORE_UNAVAILABLE` (fail closed).
 */
export async function verifyAccessToken(
  keyring: KeyRing,
  revocation: RevocationCheck,
  token: string,
  options: VerifyOptions,
): Promise<Principal> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw refuse('The access token is malformed.');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header) => {
        // jwtVerify has already refused any algorithm but ES256; the key must be one of the ring's.
        if (typeof header.kid !== 'string' || header.kid === '') throw new UnknownKey('no kid');
        const key = await keyring.verificationKey(header.kid);
        if (!key) throw new UnknownKey('unknown kid');
        return key;
      },
      {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: options.issuer,
        audience: options.audience,
        typ: ACCESS_TOKEN_TYP,
        clockTolerance: options.clockToleranceS ?? 30,
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'jti'],
        ...(options.now ? { currentDate: new Date(options.now()) } : {}),
      },
    ));
  } catch (err) {
    throw explain(err);
  }
  const { sub, sid, groups } = payload as Partial<AccessTokenClaims>;
  if (typeof sub !== 'string' || sub === '') throw refuse('The access token\'s "sub" claim is invalid.');
  if (typeof sid !== 'string' || sid === '') throw refuse('The access token\'s "sid" claim is invalid.');
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    throw refuse('The access token\'s "groups" claim is not a list of strings.');
  }
  const principal: Principal = {
    subject: sub,
    email: stringOrNull(payload, 'email'),
    name: stringOrNull(payload, 'name'),
    groups: groups ?? [],
    sessionId: sid,
  };
  if (await revocation.isRevoked(sid)) {
    throw refuse('The session of this access token was revoked or has ended; sign in again.');
  }
  return principal;
}
