/** ERRORS-2: every response carries `request-id: req_<base62>`. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 24 base62 characters ≈ 142 bits: unique without coordination between replicas. */
const LENGTH = 24;

export function newRequestId(): string {
  // 248 = 62 × 4: bytes at or above it are dropped so every character is equally likely.
  let out = 'req_';
  while (out.length < 4 + LENGTH) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && out.length < 4 + LENGTH) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export const REQUEST_ID_PATTERN = /^req_[A-Za-z0-9]+$/;
