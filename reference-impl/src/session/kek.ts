/**
 * The key-encryption key (KEK): wraps secrets the gateway keeps at rest (signing keys' private JWKs, IdP refresh
 * tokens) as JWE compact serialisations, `alg: dir` + `enc: A256GCM`.
 *
 * Every ciphertext carries, in its authenticated protected header, the KEK's id (`kid`, a fingerprint of the key,
 * never the key) and a context string naming the record it belongs to (`ctx`, e.g. `signing_key:<kid>`), so that
 * - a gateway configured with another KEK says so clearly (`ERR_KEK_MISMATCH`) instead of failing obscurely;
 * - a ciphertext copied from one row to another (by someone with write access to the database) does not decrypt
 *   as the other row's secret (`ERR_DECRYPTION_FAILED`).
 * Previous KEKs may be configured for decryption only, so the KEK can be replaced without losing data.
 */
import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { GatewayError } from '../errors.ts';

export interface Kek {
  /** Fingerprint of the current key (16 hex characters), safe to log. */
  readonly id: string;
  /** Encrypts `plaintext` bound to `context` (what the secret is, e.g. `idp_refresh_token:<sessionId>`). */
  encrypt(plaintext: string, context: string): Promise<string>;
  /** Decrypts a value written by `encrypt` with the same `context`; throws `ERR_KEK_MISMATCH` / `ERR_DECRYPTION_FAILED`. */
  decrypt(jwe: string, context: string): Promise<string>;
}

const KEY_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decodes a 32-byte key given as base64url or base64 text (surrounding whitespace ignored). */
export function parseKekText(text: string, what = 'auth.keyEncryptionKey'): Uint8Array {
  const trimmed = text.trim();
  const bytes = KEY_TEXT.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new GatewayError(
      'ERR_CONFIG_INVALID',
      `${what}: must be 32 random bytes as base64url or base64 text (e.g. \`openssl rand -base64 32\`); got ${bytes.length === 0 ? 'text that is not base64' : `${bytes.length} bytes`}`,
    );
  }
  return new Uint8Array(bytes);
}

function fingerprint(key: Uint8Array): string {
  return createHash('sha256').update('ocg-kek-id\0').update(key).digest('hex').slice(0, 16);
}

/**
 * @example
 * const kek = createKek(config.auth.keyEncryptionKey);
 * const stored = await kek.encrypt(secret, `idp_refresh_token:${sessionId}`);
 * const secret = await kek.decrypt(stored, `idp_refresh_token:${sessionId}`);
 */
export function createKek(current: string, options: { previous?: readonly string[] } = {}): Kek {
  const key = parseKekText(current);
  const id = fingerprint(key);
  const keys = new Map<string, Uint8Array>([[id, key]]);
  for (const [i, text] of (options.previous ?? []).entries()) {
    const k = parseKekText(text, `auth.previousKeyEncryptionKeys[${i}]`);
    keys.set(fingerprint(k), k);
  }

  return {
    id,
    async encrypt(plaintext, context) {
      return new CompactEncrypt(new TextEncoder().encode(plaintext))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: id, ctx: context })
        .encrypt(key);
    },
    async decrypt(jwe, context) {
      let kid: unknown;
      try {
        kid = decodeProtectedHeader(jwe).kid;
      } catch (err) {
        throw new GatewayError('ERR_DECRYPTION_FAILED', `encrypted ${context} is not a JWE`, { cause: err });
      }
      const k = typeof kid === 'string' ? keys.get(kid) : undefined;
      if (!k) {
        throw new GatewayError(
          'ERR_KEK_MISMATCH',
          `encrypted ${context} was written with another key-encryption key (id ${String(kid)}; configured: ${[...keys.keys()].join(', ')}): configure the KEK it was written with (auth.keyEncryptionKey or auth.previousKeyEncryptionKeys)`,
        );
      }
      let result: Awaited<ReturnType<typeof compactDecrypt>>;
      try {
        result = await compactDecrypt(jwe, k, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
        });
      } catch (err) {
        throw new GatewayError(
          'ERR_DECRYPTION_FAILED',
          `encrypted ${context} does not decrypt with the key-encryption key ${String(kid)}: it was altered, or the configured key with that id is wrong`,
          { cause: err },
        );
      }
      if (result.protectedHeader.ctx !== context) {
        throw new GatewayError(
          'ERR_DECRYPTION_FAILED',
          `encrypted ${context} belongs to another record; refusing to use it`,
        );
      }
      return new TextDecoder().decode(result.plaintext);
    },
  };
}
