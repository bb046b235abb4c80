/** ERRORS-2: every response carries `request-id: req_<base62>`. */
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 24 base62 characters ≈ 142 bits: unique without coordination between replicas. */
const LENGTH = 24;

// Random bytes drawn 4 KiB at a time: one call into the CSPRNG per ~130 request ids instead of one per id (it was a
// measurable share of a request's CPU). Request ids are not secrets; each byte is used once.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function nextByte(): number {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++] as number;
}

export function newRequestId(): string {
  // 248 = 62 × 4: bytes at or above it are dropped so every character is equally likely.
  let out = 'req_';
  while (out.length < 4 + LENGTH) {
    const byte = nextByte();
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

export const REQUEST_ID_PATTERN = /^req_[A-Za-z0-9]+$/;
