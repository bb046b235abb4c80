/** Small helpers shared by the session modules. */
import { createHash, randomBytes } from 'node:crypto';

/** Milliseconds since the epoch; injectable so tests can move time. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** `bytes` random bytes as base64url (32 bytes = 256 bits → 43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a secret as lower-case hex: what the database keeps instead of the secret. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A timestamp as both drivers may return it (Date from pg and PGlite, text otherwise) → epoch milliseconds. */
export function toMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  return new Date(value as string).getTime();
}

export function toMsOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toMs(value);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A jsonb value as both drivers may return it (parsed, or as text). */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
