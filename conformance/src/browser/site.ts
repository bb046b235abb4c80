/**
 * Origins and sites as a browser sees them: "same-origin" (scheme, host, port), "same-site" (scheme and registrable
 * domain; ports do not matter, an IP address or `localhost` is its own site), and the `Sec-Fetch-Site` value of a
 * navigation (Fetch Metadata: computed over the whole redirect chain against the initiator's origin).
 */
import { isIP } from 'node:net';
import { getPublicSuffix } from 'tough-cookie';

export type SecFetchSite = 'same-origin' | 'same-site' | 'cross-site' | 'none';

/** The registrable domain (eTLD+1) of a host, or the host itself for IPs, `localhost` and single labels. */
export function registrableDomain(hostname: string): string {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(host) || !host.includes('.') || host === 'localhost' || host.endsWith('.localhost')) return host;
  return getPublicSuffix(host, { allowSpecialUseDomain: true, ignoreError: true }) ?? host;
}

/** The site (schemeful) of a URL: `http://example.com` for `http://a.example.com:8080/x`. */
export function siteOf(url: string | URL): string {
  const u = new URL(url);
  return `${u.protocol}//${registrableDomain(u.hostname)}`;
}

export function isSameOrigin(a: string | URL, b: string | URL): boolean {
  return new URL(a).origin === new URL(b).origin;
}

export function isSameSite(a: string | URL, b: string | URL): boolean {
  return siteOf(a) === siteOf(b);
}

/**
 * `Sec-Fetch-Site` for a request whose URL list (redirect chain, current URL last) is `urls`, started from
 * `initiator` (undefined: the user typed the URL, which is `none` for the whole chain).
 */
export function secFetchSite(
  initiator: string | URL | undefined,
  urls: readonly (string | URL)[],
): SecFetchSite {
  if (initiator === undefined) return 'none';
  let value: SecFetchSite = 'same-origin';
  for (const url of urls) {
    if (isSameOrigin(url, initiator)) continue;
    value = 'same-site';
    if (!isSameSite(url, initiator)) return 'cross-site';
  }
  return value;
}
