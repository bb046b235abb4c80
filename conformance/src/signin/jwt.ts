/**
 * JWTs for the kit's negative cases: read a token's header and claims without verifying it, and forge tokens of
 * every kind a gateway must refuse (unsigned, HMAC keyed with a public key, signed by a key it never issued,
 * claims altered under an intact signature, the IdP's own tokens). The kit never learns a gateway's private key,
 * so a "wrong iss" token is either re-signed by a foreign key or carries the altered claim under the original
 * signature: either way only a gateway that checks both signature and claims refuses every one.
 */
import { createHmac } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The header and claims of a compact JWS, or undefined when `token` is not one (an opaque token). */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null) {
      return undefined;
    }
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signature: parts[2] as string,
    };
  } catch {
    return undefined;
  }
}

/** Header and payload encoded as they are, with `signature` (possibly empty) appended. */
export function assemble(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = '',
): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

/** An HS256 token keyed with `secret` (any bytes: the algorithm-confusion attack uses a public key's text). */
export function signHs256(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: string | Buffer,
): string {
  const h = b64({ ...header, alg: 'HS256' });
  const p = b64(payload);
  const mac = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${mac}`;
}

/** Signs with a private JWK (its `alg`), keeping the other header fields given. */
export async function signWithJwk(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  jwk: JWK,
  alg = String(jwk.alg ?? 'ES256'),
): Promise<string> {
  const key = await importJWK(jwk, alg);
  return new SignJWT(payload).setProtectedHeader({ ...header, alg }).sign(key);
}

/** A fresh key pair the gateway has never seen, as private and public JWKs. */
export async function foreignKey(
  alg: 'ES256' | 'RS256' = 'ES256',
): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), alg },
    publicJwk: { ...(await exportJWK(publicKey)), alg },
  };
}
