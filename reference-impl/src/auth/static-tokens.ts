/**
 * Static development bearer tokens (`auth.staticTokens`, for development configs and tests; sign-in issues real
 * access tokens, see `authenticate.ts`). INFERENCE-10: a missing or invalid credential on a bearer
 * endpoint is `401 authentication_error` and the upstream is never called.
 *
 * The credential is read from `Authorization: Bearer …` and from `x-api-key` (Claude Code's `apiKeyHelper` output is
 * sent in both). Comparison is constant-time: every configured token is compared (as SHA-256 digests, so lengths
 * never leak) without an early exit.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { StaticTokenConfig } from '../config/load.ts';
import { GatewayError } from '../errors.ts';

import type { Principal } from '../session/principal.ts';

export interface StaticTokenAuthenticator {
  /** Returns the principal, or throws `ERR_UNAUTHENTICATED`. */
  authenticate(headers: IncomingHttpHeaders): Principal;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="ocg"' };

/** One-shot (no Hash object per request): this runs on every request that presents a static token. */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/** The credentials a request presents, in header order of precedence. */
export function presentedCredentials(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const m = BEARER.exec(authorization);
    if (m?.[1]) out.push(m[1]);
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') out.push(apiKey.trim());
  return out;
}

export function createStaticTokenAuthenticator(
  tokens: readonly StaticTokenConfig[],
): StaticTokenAuthenticator {
  const entries = tokens.map((t) => ({
    digest: digest(t.token),
    principal: {
      subject: t.subject,
      email: t.email ?? null,
      name: t.name ?? null,
      groups: [...(t.groups ?? [])],
      sessionId: null,
    } satisfies Principal,
  }));

  const lookup = (credential: string): Principal | null => {
    const d = digest(credential);
    let found: Principal | null = null;
    for (const entry of entries) {
      // No early exit: the time taken does not depend on which token (if any) matched.
      if (timingSafeEqual(d, entry.digest) && found === null)
        found = { ...entry.principal, groups: [...entry.principal.groups] };
    }
    return found;
  };

  return {
    authenticate(headers) {
      const credentials = presentedCredentials(headers);
      if (credentials.length === 0) {
        throw new GatewayError(
          'ERR_UNAUTHENTICATED',
          'Missing credentials: send Authorization: Bearer <token> (or x-api-key).',
          { headers: CHALLENGE },
        );
      }
      if (new Set(credentials).size > 1) {
        throw new GatewayError(
          'ERR_UNAUTHENTICATED',
          'Authorization and x-api-key carry different credentials.',
          {
            headers: CHALLENGE,
          },
        );
      }
      const principal = lookup(credentials[0] as string);
      if (!principal) {
        throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid bearer token.', {
          headers: { 'www-authenticate': 'Bearer realm="ocg", error="invalid_token"' },
        });
      }
      return principal;
    },
  };
}
