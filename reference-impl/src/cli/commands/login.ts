/**
 * `ocg login <gateway-url>`: RFC 8414 discovery, the RFC 8628 device flow (the user approves in a browser, at the
 * gateway's verification page and then the company IdP), and the session stored for `ocg token`.
 */
import { decodeIdentity } from '../claims.ts';
import { type CliContext, expiresAt } from '../context.ts';
import { CliError } from '../errors.ts';
import { displayUrl, parseGatewayUrl } from '../gateway-url.ts';
import {
  configurationFor,
  type DeviceAuthorization,
  discover,
  pollForTokens,
  revokeToken,
  startDeviceAuthorization,
} from '../oauth.ts';
import { relativeTime, sanitize } from '../output.ts';
import type { StoredSession } from '../session-store.ts';

export interface LoginOptions {
  /** The gateway URL; defaults to `$OCG_GATEWAY_URL`, then the stored session's gateway. */
  url?: string;
}

function httpUrl(value: string | undefined): string | null {
  if (value === undefined) return null;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? sanitize(u.href, 500) : null;
  } catch {
    return null;
  }
}

function instructions(gateway: string, device: DeviceAuthorization): string {
  const code = sanitize(device.user_code, 40);
  const plain = httpUrl(device.verification_uri);
  if (plain === null) {
    throw new CliError('ERR_GATEWAY_ERROR', 'the gateway sent a verification_uri that is not an http(s) URL');
  }
  const complete = httpUrl(device.verification_uri_complete);
  const lines = [
    `To sign in to ${gateway}, open this page in a browser:`,
    '',
    `    ${complete ?? plain}`,
    '',
  ];
  if (complete) {
    lines.push('and check that it shows this code before you approve:');
  } else {
    lines.push('and enter this code:');
  }
  lines.push('', `    ${code}`, '');
  if (complete) lines.push(`(Or open ${plain} and enter the code.)`);
  lines.push(
    `The code expires ${relativeTime(device.expires_in * 1000)}. Waiting for approval… (Ctrl-C cancels)`,
  );
  return `${lines.join('\n')}\n`;
}

async function previousGatewayUrl(ctx: CliContext): Promise<string | undefined> {
  try {
    return (await ctx.store.load())?.gateway_url;
  } catch {
    return undefined;
  }
}

export async function login(ctx: CliContext, options: LoginOptions): Promise<number> {
  const input = options.url ?? ctx.env.OCG_GATEWAY_URL ?? (await previousGatewayUrl(ctx));
  if (!input) throw new CliError('ERR_USAGE', 'usage: ocg login <gateway-url>');
  const gatewayUrl = parseGatewayUrl(input);
  const gateway = displayUrl(gatewayUrl);
  // Fail before the user spends a minute in the browser, not after.
  await ctx.store.ensureWritable();

  const md = await discover(gatewayUrl);
  const device = await startDeviceAuthorization(md);
  ctx.err(instructions(gateway, device));
  const tokens = await pollForTokens(md, device, ctx.signal);
  const receivedAt = ctx.now();
  const session: StoredSession = {
    version: 1,
    gateway_url: gateway,
    issuer: md.issuer,
    token_endpoint: md.tokenEndpoint.href,
    revocation_endpoint: md.revocationEndpoint?.href ?? null,
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_at: expiresAt(tokens, receivedAt),
    refresh_token: tokens.refresh_token ?? null,
    obtained_at: new Date(receivedAt).toISOString(),
  };

  let previous: StoredSession | null = null;
  await ctx.store.withLock(async () => {
    previous = await ctx.store.load().catch(() => null);
    await ctx.store.save(session);
  });

  const who = decodeIdentity(session.access_token);
  const name = who?.email ?? who?.subject;
  const validity =
    session.expires_at === null
      ? ''
      : ` The access token expires ${relativeTime(Date.parse(session.expires_at) - receivedAt)}`;
  ctx.err(
    `Signed in to ${gateway}${name ? ` as ${sanitize(name, 200)}` : ''}.${validity}${
      session.refresh_token ? '; `ocg token` refreshes it when needed.' : validity ? '.' : ''
    }\nSession saved in ${ctx.store.path}\n`,
  );

  // The session this one replaces is of no further use: end it on its gateway too (best effort, quietly).
  const old = previous as StoredSession | null;
  if (old?.refresh_token && old.revocation_endpoint && old.refresh_token !== session.refresh_token) {
    try {
      await revokeToken(
        configurationFor(old, ctx.store.path),
        old.refresh_token,
        'refresh_token',
        old.gateway_url,
      );
    } catch {
      // The old session expires on its own.
    }
  }
  return 0;
}
