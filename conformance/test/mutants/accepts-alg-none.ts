/**
 * Mutant: accepts `alg: none` access tokens (SESSION-12). The proxy in front replaces a bearer whose JWT header
 * says `alg: none` with the last signed bearer it saw, so the unsigned token "works" — as a gateway that let
 * its JWT library accept unsecured tokens would behave.
 */
import type { RawHeaders } from './proxy.ts';
import { clientBearer, inFront, jwtPart, withClientBearer } from './wrap.ts';

function algOf(token: string): string | undefined {
  const alg = jwtPart(token, 0)?.alg;
  return typeof alg === 'string' ? alg : undefined;
}

let lastSigned: string | undefined;

export default inFront('mutant:accepts-alg-none', {
  requestHeaders: (headers: RawHeaders): RawHeaders => {
    const bearer = clientBearer(headers);
    if (bearer === undefined) return headers;
    const alg = algOf(bearer);
    if (alg !== undefined && alg.toLowerCase() !== 'none') lastSigned = bearer;
    if (alg?.toLowerCase() !== 'none' || lastSigned === undefined) return headers;
    return withClientBearer(headers, lastSigned);
  },
});
