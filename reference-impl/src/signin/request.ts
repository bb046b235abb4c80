/**
 * What the sign-in pages read from a request: the posted form, whether the post is same-origin (SESSION-6), and
 * the client address the attempt limits are keyed by (SESSION-7).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { RequestContext } from '../http/context.ts';

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/**
 * The urlencoded form of a POST: the pipeline's parsed `ctx.body.form` when it provides one, else parsed here from
 * the raw bytes (only when the content type says it is a form). Null when there is no form.
 */
export function postedForm(ctx: Pick<RequestContext, 'body' | 'req'>): URLSearchParams | null {
  const body = ctx.body as { raw?: Buffer; form?: URLSearchParams | null } | null;
  if (!body) return null;
  if (body.form) return body.form;
  const type = ctx.req.headers['content-type'];
  if (!body.raw || typeof type !== 'string' || !FORM_TYPE.test(type)) return null;
  return new URLSearchParams(body.raw.toString('utf8'));
}

/** The one value of a form field; null when absent or repeated (a repeated field is ambiguous, so refused). */
export function single(form: URLSearchParams, name: string): string | null {
  const all = form.getAll(name);
  return all.length === 1 ? (all[0] as string) : null;
}

export type CrossSiteVerdict = { ok: true } | { ok: false; why: string };

/**
 * Refuses a form post that a browser says came from elsewhere: `Sec-Fetch-Site` other than `same-origin` (or
 * `none`: typed or bookmarked by the user), or an `Origin` that is not the gateway's own (including the opaque
 * `null` of sandboxed documents and cross-origin redirects). A request with neither header (an old browser, a
 * script) passes this check and is left to the anti-forgery token.
 */
export function checkSameOrigin(headers: IncomingHttpHeaders, ownOrigin: string): CrossSiteVerdict {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    return { ok: false, why: `Sec-Fetch-Site: ${site.slice(0, 20)}` };
  }
  const origin = headers.origin;
  if (typeof origin === 'string' && origin.toLowerCase() !== ownOrigin.toLowerCase()) {
    return { ok: false, why: 'Origin is another origin' };
  }
  return { ok: true };
}

/**
 * The key attempts are counted under: the peer's IP address, IPv4-mapped IPv6 folded to IPv4, and other IPv6
 * addresses cut to their /64 (one host typically holds a whole /64, so per-address limits would be free to evade).
 * Behind a reverse proxy every client shares the proxy's address: pass a `clientAddress` function that reads the
 * proxy's header instead.
 */
export function defaultClientAddress(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  if (mapped) return mapped[1] as string;
  if (isIP(raw) === 6) return `${expandIpv6(raw).slice(0, 4).join(':')}::/64`;
  return raw;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const h = head ? head.split(':') : [];
  const t = address.includes('::') && tail ? tail.split(':') : [];
  const fill = address.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}
