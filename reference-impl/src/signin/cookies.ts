/**
 * The verification page's two cookies, and the small RFC 6265 parsing and serialisation they need.
 *
 * - `ocg_csrf`: a random per-browser secret (session cookie). The page's anti-forgery token is derived from it, so a
 *   cross-site form, which can neither read the cookie nor the page, cannot produce a valid token.
 * - `ocg_device`: the sign-in in progress in this browser (user code, browser-binding secret, PKCE verifier, state,
 *   nonce), encrypted with the KEK, for at most the device code's remaining lifetime.
 *
 * Both are `HttpOnly; SameSite=Lax; Path=/`, and `Secure` with a `__Host-` name prefix when the gateway is served
 * over HTTPS (so a sibling subdomain cannot plant them). Lax, not Strict: the IdP's redirect back to the callback is
 * a cross-site top-level navigation and must carry `ocg_device`. The names never collide with the kit's mock IdP
 * (`_idp_*`): browsers do not isolate cookies by port.
 */

export interface CookieNames {
  csrf: string;
  device: string;
}

export function cookieNames(secure: boolean): CookieNames {
  return secure
    ? { csrf: '__Host-ocg_csrf', device: '__Host-ocg_device' }
    : { csrf: 'ocg_csrf', device: 'ocg_device' };
}

/** Cookies of a request (`Cookie` header); the first of duplicate names wins, as most servers do. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? '' : part.slice(0, eq).trim();
    if (name === '') continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; absent = a session cookie; 0 deletes it. */
  maxAgeS?: number;
}

/** A `Set-Cookie` value. Values are base64url or JWE compact text, so they need no quoting. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.maxAgeS !== undefined) {
    parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeS))}`);
    if (options.maxAgeS <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  }
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
