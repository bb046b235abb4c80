/** What every command gets: the environment, a clock, the two output streams and the session store. */
import { decodeIdentity } from './claims.ts';
import type { Tokens } from './oauth.ts';
import type { SessionStore, StoredSession } from './session-store.ts';

export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Epoch milliseconds. */
  now(): number;
  /** stdout: only what a script reads (the token, `status` output). */
  out(text: string): void;
  /** stderr: instructions, progress, warnings, errors. */
  err(text: string): void;
  /** Aborted on Ctrl-C while `ocg login` waits for approval. */
  signal: AbortSignal;
  store: SessionStore;
}

/**
 * When the token expires: `expires_in` counted from when it arrived (immune to clock skew between laptop and
 * gateway), else the token's own `exp`, else unknown.
 */
export function expiresAt(tokens: Tokens, receivedAtMs: number): string | null {
  if (typeof tokens.expires_in === 'number' && Number.isFinite(tokens.expires_in)) {
    return new Date(receivedAtMs + tokens.expires_in * 1000).toISOString();
  }
  const exp = decodeIdentity(tokens.access_token)?.expiresAtMs;
  return exp ? new Date(exp).toISOString() : null;
}

/** The session after a refresh: the rotated refresh token replaces the old one (kept if the gateway sent none). */
export function refreshedSession(
  previous: StoredSession,
  tokens: Tokens,
  receivedAtMs: number,
): StoredSession {
  return {
    ...previous,
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_at: expiresAt(tokens, receivedAtMs),
    refresh_token: tokens.refresh_token ?? previous.refresh_token,
    obtained_at: new Date(receivedAtMs).toISOString(),
  };
}

/** Milliseconds the stored access token still has, or null when its expiry is unknown. */
export function remainingMs(session: StoredSession, nowMs: number): number | null {
  return session.expires_at === null ? null : Date.parse(session.expires_at) - nowMs;
}
