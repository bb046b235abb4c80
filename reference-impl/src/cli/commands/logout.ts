/**
 * `ocg logout`: revokes the session at the gateway (RFC 7009: the refresh token, then the access token) and deletes
 * the stored session. The file is deleted even when the gateway cannot be reached or refuses — with a warning,
 * because the session then stays valid on the gateway until it expires or an admin revokes it.
 * A corrupted or over-permissive session file is deleted too (revoking what can still be read from it).
 */
import type { CliContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { configurationFor, revokeToken } from '../oauth.ts';
import type { StoredSession } from '../session-store.ts';

export async function logout(ctx: CliContext): Promise<number> {
  return ctx.store.withLock(async () => {
    let session: StoredSession | null;
    try {
      session = await ctx.store.load({ allowInsecure: true });
    } catch (err) {
      if (err instanceof CliError && err.code === 'ERR_SESSION_CORRUPT') {
        await ctx.store.remove();
        ctx.err(
          `ocg: warning: ${err.message.replace(/: run .*$/, '')}; deleted it without revoking anything at the gateway\n`,
        );
        return 0;
      }
      throw err;
    }
    if (!session) {
      ctx.err('Not signed in; nothing to do.\n');
      return 0;
    }
    const gateway = session.gateway_url;
    const problems: string[] = [];
    if (session.revocation_endpoint === null) {
      problems.push('the gateway advertises no revocation endpoint');
    } else {
      let config: ReturnType<typeof configurationFor> | null = null;
      try {
        config = configurationFor(session, ctx.store.path);
      } catch (err) {
        problems.push((err as Error).message.replace(/: run .*$/, ''));
      }
      if (config) {
        const tokens: Array<[string, 'refresh_token' | 'access_token']> = [];
        if (session.refresh_token) tokens.push([session.refresh_token, 'refresh_token']);
        tokens.push([session.access_token, 'access_token']);
        for (const [value, hint] of tokens) {
          try {
            await revokeToken(config, value, hint, gateway);
          } catch (err) {
            problems.push((err as Error).message);
            // Unreachable once is unreachable twice: do not wait for a second timeout.
            if (err instanceof CliError && (err.code === 'ERR_GATEWAY_UNREACHABLE' || err.code === 'ERR_TLS'))
              break;
          }
        }
      }
    }
    await ctx.store.remove();
    if (problems.length > 0) {
      ctx.err(
        `ocg: warning: could not revoke the session at ${gateway} (${problems.join('; ')}). ` +
          'The local session is deleted, but the gateway may accept its tokens until they expire; ' +
          'ask an administrator to revoke the session if the tokens may have leaked.\n',
      );
    }
    ctx.err(`Signed out of ${gateway}.\n`);
    return 0;
  });
}
