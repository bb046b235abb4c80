/**
 * Mutant: accepts expired access tokens on the pass-through surfaces (PASSTHROUGH-3), as a gateway whose Bedrock and
 * Vertex handlers check the token's signature but not its `exp`. The proxy in front replaces, on those paths only,
 * a bearer whose `exp` has passed with the last unexpired bearer it saw, so the expired token "works" there; the
 * Messages API still refuses it.
 */
import type { RawHeaders } from './proxy.ts';
import { clientBearer, inFront, jwtPart, withClientBearer } from './wrap.ts';

const PASSTHROUGH_PATH = /^\/(model\/|v1\/projects\/)/;

/** The JWT's `exp` in epoch ms, if it is a JWT with one. */
function expiresAt(token: string): number | undefined {
  const exp = jwtPart(token, 1)?.exp;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

let lastFresh: string | undefined;

export default inFront('mutant:accepts-expired-on-passthrough', {
  requestHeaders: (headers: RawHeaders, path: string): RawHeaders => {
    const bearer = clientBearer(headers);
    const exp = bearer === undefined ? undefined : expiresAt(bearer);
    if (exp === undefined) return headers;
    if (exp > Date.now()) {
      lastFresh = bearer;
      return headers;
    }
    if (!PASSTHROUGH_PATH.test(path) || lastFresh === undefined) return headers;
    if ((expiresAt(lastFresh) ?? 0) <= Date.now()) return headers;
    return withClientBearer(headers, lastFresh);
  },
});
