/**
 * Mutant: accepts expired access tokens on the pass-through surfaces (PASSTHROUGH-3), as a gateway whose Bedrock and
 * Vertex handlers check the token's signature but not its `exp`. The proxy in front replaces, on those paths only,
 * a bearer whose `exp` has passed with the last unexpired bearer it saw, so the expired token "works" there; the
 * Messages API still refuses it.
 */
import type { RawHeaders } from './proxy.ts';
import { clientBearer, inFront } from './wrap.ts';

const PASSTHROUGH_PATH = /^\/(model\/|v1\/projects\/)/;

/** The JWT's `exp` (epoch seconds), if it is a JWT with one. */
function expOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

let lastFresh: string | undefined;

export default inFront('mutant:accepts-expired-on-passthrough', {
  requestHeaders: (headers: RawHeaders, path: string): RawHeaders => {
    const bearer = clientBearer(headers);
    if (bearer === undefined) return headers;
    const exp = expOf(bearer);
    if (exp === undefined) return headers;
    if (exp * 1000 > Date.now()) {
      lastFresh = bearer;
      return headers;
    }
    if (!PASSTHROUGH_PATH.test(path) || lastFresh === undefined) return headers;
    if ((expOf(lastFresh) ?? 0) * 1000 <= Date.now()) return headers;
    const fresh = lastFresh;
    return headers.map(([n, v]): [string, string] => {
      const name = n.toLowerCase();
      if (name === 'authorization') return [n, `Bearer ${fresh}`];
      if (name === 'x-api-key') return [n, fresh];
      return [n, v];
    });
  },
});
