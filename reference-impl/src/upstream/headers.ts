/**
 * Which headers cross the gateway, in each direction.
 *
 * INFERENCE-4: `anthropic-version`, `anthropic-beta`, content-type, accept, user-agent and `x-stainless-*` are
 * forwarded byte for byte (taken from `rawHeaders`, so duplicates are not re-joined).
 * INFERENCE-5: the client's `authorization` / `x-api-key` never reach the upstream; the upstream's key is applied.
 * INFERENCE-6: hop-by-hop headers, and any header named in `Connection`, cross in neither direction;
 * content-length and content-encoding are recomputed, not copied.
 * INFERENCE-7: `x-app`, `x-claude-code-session-id` and `x-stainless-*` pass through.
 */

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones proxies still meet. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/** Client request headers relayed to an Anthropic-shaped upstream (allow-list: everything else is dropped). */
const FORWARDED_REQUEST_HEADERS = new Set([
  'content-type',
  'accept',
  'anthropic-version',
  'anthropic-beta',
  'anthropic-user-profile-id',
  'user-agent',
  'x-app',
  'x-claude-code-session-id',
]);

/** Upstream response headers never relayed to the client (besides hop-by-hop ones). */
const DROPPED_RESPONSE_HEADERS = new Set([
  'content-length', // recomputed by node:http (or set by us for buffered bodies)
  'content-encoding', // we ask for identity and decode anything else before relaying
  'set-cookie', // upstream sessions are the gateway's business, not the client's
  'request-id', // replaced by ours; the upstream's is kept as upstream-request-id
  'date',
  'server',
  'alt-svc',
  'strict-transport-security',
  'cf-ray',
  'cf-cache-status',
  'via',
  'x-envoy-upstream-service-time',
]);

/** Header names listed in a `Connection` header value (RFC 9110 §7.6.1). */
export function connectionListed(value: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const v of Array.isArray(value) ? value : value ? [value] : []) {
    for (const name of v.split(',')) {
      const n = name.trim().toLowerCase();
      if (n) out.add(n);
    }
  }
  return out;
}

/**
 * Builds the upstream request headers as a flat `[name, value, …]` list from the client's `rawHeaders`.
 * `accept-encoding` is deliberately NOT forwarded: we ask the upstream for `identity`, so an SSE stream is never
 * compressed (compression would make the upstream and any intermediary buffer) and the gateway never has to decode
 * and re-encode a body it relays.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], apiKey: string): string[] {
  const listed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === 'connection') {
      for (const n of connectionListed(rawHeaders[i + 1])) listed.add(n);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (FORWARDED_REQUEST_HEADERS.has(lower) || lower.startsWith('x-stainless-')) {
      out.push(lower, rawHeaders[i + 1] as string);
    }
  }
  out.push('x-api-key', apiKey, 'accept-encoding', 'identity');
  return out;
}

/** Filters upstream response headers for the client. */
export function clientResponseHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || DROPPED_RESPONSE_HEADERS.has(lower)) continue;
    out[lower] = value;
  }
  const upstreamRequestId = headers['request-id'];
  if (typeof upstreamRequestId === 'string') out['upstream-request-id'] = upstreamRequestId;
  return out;
}
