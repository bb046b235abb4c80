/**
 * The gateway base URL a user types, and the transport rule for it: `https://` everywhere, plain `http://` only to
 * a loopback host (protocol-facts §0 "TLS"), because a bearer token sent in clear text over a network is a
 * credential given away. Every endpoint the gateway advertises must be on the same origin as this URL, so a
 * tampered metadata document cannot send the tokens elsewhere (the Claude Code client has the same rule).
 */
import { isIP } from 'node:net';
import { CliError } from './errors.ts';

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 — hosts that never leave the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** True when requests to this URL may use plain HTTP (openid-client's `allowInsecureRequests`). */
export function allowsPlainHttp(url: URL): boolean {
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

/**
 * Parses and normalises a gateway URL: no credentials, query or fragment; no trailing slash.
 * Throws `ERR_USAGE` for something that is not an http(s) URL and `ERR_INSECURE_URL` for plain http to a
 * non-loopback host.
 */
export function parseGatewayUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new CliError(
      'ERR_USAGE',
      `not a URL: ${JSON.stringify(input)} (expected e.g. https://ai-gateway.example.com)`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CliError('ERR_USAGE', `the gateway URL must start with https:// (got ${url.protocol}//)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new CliError('ERR_USAGE', 'the gateway URL must not contain a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new CliError('ERR_USAGE', 'the gateway URL must not contain a query (?…) or a fragment (#…)');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new CliError(
      'ERR_INSECURE_URL',
      `refusing plain http:// to ${url.host}: tokens would cross the network unencrypted. ` +
        `Use https://${url.host}${url.pathname === '/' ? '' : url.pathname} (http:// is allowed only for ` +
        'localhost / 127.0.0.1 / [::1])',
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  return url;
}

/** The URL as users see it: no trailing slash at the root. */
export function displayUrl(url: URL): string {
  return url.pathname === '/' ? url.origin : `${url.origin}${url.pathname}`;
}

/** `<base>/<relative>`, keeping the base's path (the client contract's paths are relative to the base URL). */
export function resolveUnder(base: URL, relative: string): URL {
  const b = new URL(base.href);
  if (!b.pathname.endsWith('/')) b.pathname = `${b.pathname}/`;
  return new URL(relative.replace(/^\/+/, ''), b);
}

/**
 * Checks one advertised endpoint: an absolute URL on the gateway's origin. Returns it, or throws
 * `ERR_BAD_METADATA` naming the field.
 */
export function sameOriginEndpoint(base: URL, field: string, value: unknown): URL {
  if (typeof value !== 'string' || value === '') {
    throw new CliError('ERR_BAD_METADATA', `the gateway's metadata has no "${field}"`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('ERR_BAD_METADATA', `the gateway's metadata "${field}" is not a URL`);
  }
  if (url.origin !== base.origin) {
    throw new CliError(
      'ERR_BAD_METADATA',
      `the gateway's metadata "${field}" points to another origin (${url.origin}, not ${base.origin}); ` +
        'refusing to send credentials there',
    );
  }
  return url;
}
