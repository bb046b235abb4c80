/**
 * The gateway as an OpenID Connect relying party (SESSION-9), on openid-client v6.
 *
 * - Discovery is lazy and cached: the gateway boots while the IdP is down, and a failed discovery is retried on
 *   the next sign-in instead of being remembered.
 * - `allowInsecureRequests` is applied only to an `http://` issuer on a loopback host (a development IdP such as the
 *   kit's mock); any other issuer must be HTTPS.
 * - `enableNonRepudiationChecks` is always on: openid-client trusts TLS and does not verify the ID token's JWS
 *   signature by default; the gateway verifies it against the IdP's JWKS, on the code grant and on every refresh.
 */
import * as oidc from 'openid-client';
import { GatewayError } from '../errors.ts';
import { isLoopbackHost, type OidcConfig } from './config.ts';

export interface OidcRpOptions {
  /**
   * Replaces `fetch` for every request to the IdP (openid-client's `customFetch`). Tests use it to tamper with the
   * IdP's answers; production leaves it unset.
   */
  fetch?: oidc.CustomFetch;
  /** Seconds per request to the IdP (default 10: a person is waiting on the other side). */
  timeoutS?: number;
}

export interface OidcRp {
  /** The configured issuer (the discovered one must match it exactly; openid-client checks). */
  readonly issuer: string;
  /** The discovered configuration; rejects with `ERR_UPSTREAM_UNREACHABLE` when discovery fails. */
  configuration(): Promise<oidc.Configuration>;
}

function clientAuth(config: OidcConfig): oidc.ClientAuth {
  const method = config.tokenEndpointAuthMethod ?? (config.clientSecret ? 'client_secret_post' : 'none');
  switch (method) {
    case 'none':
      return oidc.None();
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(config.clientSecret);
    case 'client_secret_post':
      return oidc.ClientSecretPost(config.clientSecret);
  }
}

/**
 * @example
 * const rp = createOidcRp(config.auth.oidc);
 * const configuration = await rp.configuration();
 * const url = oidc.buildAuthorizationUrl(configuration, { redirect_uri, scope, state, nonce, … });
 */
export function createOidcRp(config: OidcConfig, options: OidcRpOptions = {}): OidcRp {
  const issuerUrl = new URL(config.issuer);
  const insecure = issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname);
  let pending: Promise<oidc.Configuration> | null = null;

  async function discover(): Promise<oidc.Configuration> {
    try {
      const configuration = await oidc.discovery(issuerUrl, config.clientId, undefined, clientAuth(config), {
        execute: insecure ? [oidc.allowInsecureRequests] : [],
        timeout: options.timeoutS ?? 10,
        ...(options.fetch ? { [oidc.customFetch]: options.fetch } : {}),
      });
      oidc.enableNonRepudiationChecks(configuration);
      if (options.fetch) configuration[oidc.customFetch] = options.fetch;
      return configuration;
    } catch (err) {
      throw new GatewayError(
        'ERR_UPSTREAM_UNREACHABLE',
        `OpenID Connect discovery of ${config.issuer} failed: ${describeOidcError(err)}`,
        { cause: err },
      );
    }
  }

  return {
    issuer: config.issuer,
    configuration() {
      pending ??= discover().catch((err: unknown) => {
        pending = null; // retried on the next call
        throw err;
      });
      return pending;
    },
  };
}

/**
 * One line saying what went wrong talking to the IdP, safe to log and to show: OAuth error codes, openid-client's
 * error codes and messages (which name claims, never their values), never tokens.
 */
export function describeOidcError(err: unknown): string {
  if (err instanceof oidc.ResponseBodyError) {
    return `the IdP answered ${err.status} ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  }
  if (err instanceof oidc.AuthorizationResponseError) {
    return `the IdP answered ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    return `the IdP refused the request (${err.status} ${err.cause[0]?.parameters.error ?? 'challenge'})`;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
