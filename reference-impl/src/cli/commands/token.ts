/**
 * `ocg token`: prints a fresh access token — only the token, one line, on stdout — so it can be Claude Code's
 * `apiKeyHelper`. Usually no network call at all; when fewer than `--min-ttl` seconds (default 60) remain it uses
 * the refresh-token grant under the session lock and stores the rotated refresh token atomically.
 *
 * `invalid_grant` means the session is over (expired, revoked by an admin, or the user was removed at the IdP):
 * the stored session is deleted and the user is told to sign in again. If the gateway is unreachable but the
 * current token is still valid, that token is printed with a warning, so a short outage does not stop work.
 */
import { type CliContext, refreshedSession, remainingMs } from '../context.ts';
import { CliError } from '../errors.ts';
import { configurationFor, refreshTokens } from '../oauth.ts';
import { relativeTime } from '../output.ts';
import type { StoredSession } from '../session-store.ts';

export interface TokenOptions {
  /** Refresh when fewer than this many seconds remain. Default 60. */
  minTtlS: number;
}

export const DEFAULT_MIN_TTL_S = 60;

function notSignedIn(): CliError {
  return new CliError('ERR_NOT_SIGNED_IN', 'not signed in: run `ocg login <gateway-url>`');
}

function isFresh(session: StoredSession, nowMs: number, minTtlS: number): boolean {
  const left = remainingMs(session, nowMs);
  // Unknown expiry: refresh when we can, otherwise use the token until the gateway refuses it.
  if (left === null) return session.refresh_token === null;
  return left > minTtlS * 1000;
}

const KEEP_CURRENT_ON: ReadonlySet<string> = new Set([
  'ERR_GATEWAY_UNREACHABLE',
  'ERR_GATEWAY_ERROR',
  'ERR_TLS',
]);

export async function token(ctx: CliContext, options: TokenOptions): Promise<number> {
  const stored = await ctx.store.load();
  if (!stored) throw notSignedIn();
  if (isFresh(stored, ctx.now(), options.minTtlS)) {
    ctx.out(`${stored.access_token}\n`);
    return 0;
  }
  if (stored.refresh_token === null) {
    const left = remainingMs(stored, ctx.now());
    if (left !== null && left <= 0) {
      throw new CliError('ERR_SESSION_EXPIRED', `session expired: run \`ocg login ${stored.gateway_url}\``);
    }
    ctx.err(
      `ocg: warning: the access token expires ${relativeTime(left ?? 0)} and the gateway gave no refresh token\n`,
    );
    ctx.out(`${stored.access_token}\n`);
    return 0;
  }

  const session = await ctx.store.withLock(async () => {
    // Another `ocg token` may have refreshed while we waited for the lock: its result is ours.
    const current = await ctx.store.load();
    if (!current) throw notSignedIn();
    if (isFresh(current, ctx.now(), options.minTtlS) || current.refresh_token === null) return current;
    const config = configurationFor(current, ctx.store.path);
    try {
      const tokens = await refreshTokens(config, current);
      const next = refreshedSession(current, tokens, ctx.now());
      await ctx.store.save(next);
      return next;
    } catch (err) {
      if (err instanceof CliError && err.code === 'ERR_SESSION_EXPIRED') {
        await ctx.store.remove();
        throw err;
      }
      const left = remainingMs(current, ctx.now());
      if (err instanceof CliError && KEEP_CURRENT_ON.has(err.code) && left !== null && left > 0) {
        ctx.err(
          `ocg: warning: could not refresh (${err.message}); using the current token, which expires ${relativeTime(left)}\n`,
        );
        return current;
      }
      throw err;
    }
  });
  ctx.out(`${session.access_token}\n`);
  return 0;
}
