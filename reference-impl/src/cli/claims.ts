/**
 * The identity in a gateway access token, for display only. The token is a JWT the gateway signed; the CLI
 * decodes its claims WITHOUT verifying the signature — it has no reason to trust or distrust its own token, and
 * the gateway verifies it on every request. Nothing here is ever used to make a security decision.
 */
import { decodeJwt } from 'jose';

export interface TokenIdentity {
  subject: string | null;
  email: string | null;
  name: string | null;
  groups: string[];
  sessionId: string | null;
  issuer: string | null;
  /** `exp` in epoch milliseconds. */
  expiresAtMs: number | null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** The claims of `token`, or null when it is not a JWT (the contract lets a gateway issue opaque tokens). */
export function decodeIdentity(token: string): TokenIdentity | null {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return null;
  }
  return {
    subject: str(claims.sub),
    email: str(claims.email),
    name: str(claims.name),
    groups: Array.isArray(claims.groups)
      ? claims.groups.filter((g): g is string => typeof g === 'string')
      : [],
    sessionId: str(claims.sid),
    issuer: str(claims.iss),
    expiresAtMs: typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : null,
  };
}
