/**
 * `ocg status`: which gateway, whether signed in, when the access token expires, and who the token says you are.
 * No network call. Exit 0 when signed in (a valid access token, or a refresh token that may still renew it),
 * 1 when not.
 */
import { decodeIdentity } from '../claims.ts';
import { type CliContext, remainingMs } from '../context.ts';
import { relativeTime, sanitize } from '../output.ts';

export interface StatusOptions {
  json: boolean;
}

const NOTE =
  "The identity is read from the access token's claims, decoded without verifying its signature " +
  '(the gateway verifies it on every request).';

export async function status(ctx: CliContext, options: StatusOptions): Promise<number> {
  const session = await ctx.store.load();
  if (!session) {
    if (options.json) ctx.out(`${JSON.stringify({ signed_in: false, session_file: ctx.store.path })}\n`);
    else ctx.out('Not signed in. Run `ocg login <gateway-url>`.\n');
    return 1;
  }
  const now = ctx.now();
  const left = remainingMs(session, now);
  const accessValid = left === null || left > 0;
  const signedIn = accessValid || session.refresh_token !== null;
  const who = decodeIdentity(session.access_token);

  if (options.json) {
    ctx.out(
      `${JSON.stringify({
        signed_in: signedIn,
        gateway_url: session.gateway_url,
        expires_at: session.expires_at,
        access_token_valid: accessValid,
        refresh_token_stored: session.refresh_token !== null,
        identity: who && {
          sub: who.subject,
          email: who.email,
          name: who.name,
          groups: who.groups,
          session_id: who.sessionId,
          verified: false,
        },
        session_file: ctx.store.path,
      })}\n`,
    );
    return signedIn ? 0 : 1;
  }

  const expiry =
    session.expires_at === null
      ? 'unknown expiry'
      : `${accessValid ? 'expires' : 'expired'} ${session.expires_at} (${relativeTime(left ?? 0)})`;
  const rows: Array<[string, string]> = [
    ['Gateway', session.gateway_url],
    ['Signed in', signedIn ? 'yes' : `no — run \`ocg login ${session.gateway_url}\``],
  ];
  if (who) {
    rows.push(['Subject', sanitize(who.subject ?? '(none)')]);
    rows.push(['Email', sanitize(who.email ?? '(none)')]);
    if (who.name) rows.push(['Name', sanitize(who.name)]);
    rows.push(['Groups', who.groups.length > 0 ? sanitize(who.groups.join(', '), 2000) : '(none)']);
  } else {
    rows.push(['Identity', 'unknown (the access token is not a JWT)']);
  }
  rows.push(['Access token', expiry]);
  rows.push([
    'Refresh token',
    session.refresh_token === null
      ? 'none (sign in again when the access token expires)'
      : 'stored (`ocg token` refreshes)',
  ]);
  rows.push(['Session file', ctx.store.path]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  ctx.out(`${rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n')}\n${who ? `\n${NOTE}\n` : ''}`);
  return signedIn ? 0 : 1;
}
