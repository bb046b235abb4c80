/**
 * The CLI as an OAuth 2.0 public client of the gateway (protocol-facts §0 "Sign-in", §5), on openid-client v6:
 * RFC 8414 metadata, the RFC 8628 device flow, the refresh-token grant and RFC 7009 revocation.
 *
 * Every failure openid-client or fetch can raise is turned into one `CliError` with a code the user can act on:
 * the gateway cannot be reached, is not an OCG gateway, sent bad metadata, denied the sign-in, let the code expire,
 * or refused the refresh token (the session is over). Messages name the step and the gateway, never a token.
 */
import * as client from 'openid-client';
import { CliError } from './errors.ts';
import {
  allowsPlainHttp,
  displayUrl,
  parseGatewayUrl,
  resolveUnder,
  sameOriginEndpoint,
} from './gateway-url.ts';
import { sanitize } from './output.ts';
import type { StoredSession } from './session-store.ts';

/** The client id the CLI sends (a public client: `token_endpoint_auth_method: none`). */
export const CLIENT_ID = 'ocg-cli';
/** Per-request timeout in seconds; `ocg token` runs inside Claude Code's request path, so it must not hang. */
export const HTTP_TIMEOUT_S = 15;
export const METADATA_PATH = '.well-known/oauth-authorization-server';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export type Step = 'metadata' | 'device_authorization' | 'poll' | 'refresh' | 'revoke';

const STEP_NAMES: Record<Step, string> = {
  metadata: `GET /${METADATA_PATH}`,
  device_authorization: 'the device authorization request',
  poll: 'the sign-in (token request)',
  refresh: 'the token refresh',
  revoke: 'the token revocation',
};

export interface GatewayMetadata {
  gatewayUrl: URL;
  issuer: string;
  tokenEndpoint: URL;
  deviceAuthorizationEndpoint: URL;
  revocationEndpoint: URL | null;
  /** `ocg_protocol_version`, when the gateway says. */
  protocolVersion: string | null;
  config: client.Configuration;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response in time',
  UND_ERR_BODY_TIMEOUT: 'response body timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
};

function causeCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string' && !e.code.startsWith('OAUTH_')) return e.code;
  if (Array.isArray(e.errors) && e.errors.length > 0) return causeCode(e.errors[0], depth + 1);
  return causeCode(e.cause, depth + 1);
}

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('CERT_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

function statusOf(err: unknown): { status: number | null; contentType: string | null } {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Response)
    return { status: cause.status, contentType: cause.headers.get('content-type') };
  return { status: null, contentType: null };
}

function oauthDetail(error: string, description: string | undefined): string {
  return description ? `${sanitize(error, 60)}: ${sanitize(description)}` : sanitize(error, 60);
}

/** The RFC 6749 `error` of an OAuth error response, wherever openid-client put it. */
async function oauthErrorOf(err: unknown): Promise<{ error: string; description?: string } | null> {
  if (err instanceof client.ResponseBodyError) {
    return { error: err.error, ...(err.error_description ? { description: err.error_description } : {}) };
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    // A 401 with a WWW-Authenticate header: the error is in the challenge or, failing that, the body.
    for (const c of err.cause) {
      const e = c.parameters.error;
      if (e)
        return {
          error: e,
          ...(c.parameters.error_description ? { description: c.parameters.error_description } : {}),
        };
    }
    try {
      const body = (await err.response.json()) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === 'string') {
        return {
          error: body.error,
          ...(typeof body.error_description === 'string' ? { description: body.error_description } : {}),
        };
      }
    } catch {
      // not JSON
    }
    return { error: `HTTP ${err.status}` };
  }
  return null;
}

/**
 * Maps any failure of one step against the gateway to a `CliError`. OAuth error codes a step expects (e.g.
 * `invalid_grant` on refresh) come back as their own CliError codes; the rest is `ERR_GATEWAY_ERROR`.
 */
export async function explain(err: unknown, step: Step, gateway: string): Promise<CliError> {
  if (err instanceof CliError) return err;
  const what = STEP_NAMES[step];
  const oauthError = await oauthErrorOf(err);
  if (oauthError) {
    const detail = oauthDetail(oauthError.error, oauthError.description);
    if (step === 'poll' && oauthError.error === 'access_denied') {
      return new CliError('ERR_ACCESS_DENIED', `sign-in was denied (${detail})`, { cause: err });
    }
    if (step === 'poll' && (oauthError.error === 'expired_token' || oauthError.error === 'invalid_grant')) {
      return new CliError(
        'ERR_DEVICE_CODE_EXPIRED',
        `the sign-in code expired or was already used (${detail}): run \`ocg login ${gateway}\` again`,
        { cause: err },
      );
    }
    if (step === 'refresh' && oauthError.error === 'invalid_grant') {
      return new CliError('ERR_SESSION_EXPIRED', `session expired or revoked: run \`ocg login ${gateway}\``, {
        cause: err,
      });
    }
    return new CliError('ERR_GATEWAY_ERROR', `the gateway refused ${what}: ${detail}`, { cause: err });
  }
  if (err instanceof client.ClientError) {
    const { status, contentType } = statusOf(err);
    switch (err.code) {
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        const answer = status === null ? 'an unexpected status' : `HTTP ${status}`;
        if (step === 'metadata') {
          const hint =
            status !== null && status >= 300 && status < 400
              ? ' (a redirect: ocg does not follow redirects; check the URL)'
              : '';
          return new CliError(
            'ERR_NOT_A_GATEWAY',
            `${gateway} does not look like an OCG gateway: ${what} answered ${answer}${hint}`,
            { cause: err },
          );
        }
        return new CliError('ERR_GATEWAY_ERROR', `the gateway answered ${what} with ${answer}`, {
          cause: err,
        });
      }
      case 'OAUTH_RESPONSE_IS_NOT_JSON': {
        const type = contentType ? sanitize(contentType, 80) : 'no content type';
        if (step === 'metadata') {
          return new CliError(
            'ERR_NOT_A_GATEWAY',
            `${gateway} does not look like an OCG gateway: ${what} answered ${type}, not JSON metadata`,
            { cause: err },
          );
        }
        return new CliError('ERR_GATEWAY_ERROR', `the gateway answered ${what} with ${type}, not JSON`, {
          cause: err,
        });
      }
      case 'OAUTH_PARSE_ERROR':
      case 'OAUTH_INVALID_RESPONSE':
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON': {
        // openid-client's own message (e.g. '"response" body "issuer" property must be a string') names a field,
        // never a value.
        const inner = err.cause instanceof Error ? sanitize(err.cause.message, 200) : sanitize(err.message);
        if (step === 'metadata') {
          return new CliError('ERR_BAD_METADATA', `the gateway's metadata is invalid: ${inner}`, {
            cause: err,
          });
        }
        return new CliError('ERR_GATEWAY_ERROR', `the gateway's answer to ${what} is invalid: ${inner}`, {
          cause: err,
        });
      }
      case 'OAUTH_TIMEOUT':
        return new CliError(
          'ERR_GATEWAY_UNREACHABLE',
          `cannot reach the gateway at ${gateway}: ${what} timed out`,
          {
            cause: err,
          },
        );
      case 'OAUTH_ABORT':
        return new CliError('ERR_CANCELLED', 'cancelled', { cause: err });
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
        return new CliError('ERR_INSECURE_URL', `refusing plain http:// for ${what}`, { cause: err });
      default:
        if (err.cause !== undefined && !(err.cause instanceof Response))
          return explain(err.cause, step, gateway);
    }
  }
  if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'AbortError'
      ? new CliError('ERR_CANCELLED', 'cancelled', { cause: err })
      : new CliError('ERR_GATEWAY_UNREACHABLE', `cannot reach the gateway at ${gateway}: ${what} timed out`, {
          cause: err,
        });
  }
  const code = causeCode(err);
  if (code && isTlsCode(code)) {
    return new CliError(
      'ERR_TLS',
      `cannot reach the gateway at ${gateway}: its TLS certificate was refused (${code}). If your organisation ` +
        'uses its own certificate authority, point NODE_EXTRA_CA_CERTS at its certificate',
      { cause: err },
    );
  }
  if (err instanceof TypeError && (code || err.message === 'fetch failed')) {
    const inner = (err as { cause?: unknown }).cause;
    const reason =
      (code && NETWORK_CODES[code]) ??
      code ??
      (inner instanceof Error && inner.message ? sanitize(inner.message, 100) : 'network error');
    return new CliError('ERR_GATEWAY_UNREACHABLE', `cannot reach the gateway at ${gateway}: ${reason}`, {
      cause: err,
    });
  }
  return new CliError('ERR_INTERNAL', `${what} failed unexpectedly: ${sanitize(String(err))}`, {
    cause: err,
  });
}

/**
 * RFC 8414 discovery at `<gateway>/.well-known/oauth-authorization-server` (the client contract's paths are
 * relative to the base URL), then the checks the CLI relies on: a device authorization and a token endpoint, every
 * endpoint on the gateway's origin, the device grant supported when the gateway lists its grants.
 */
export async function discover(gatewayUrl: URL): Promise<GatewayMetadata> {
  const gateway = displayUrl(gatewayUrl);
  const plainHttp = allowsPlainHttp(gatewayUrl);
  let config: client.Configuration;
  try {
    config = await client.discovery(
      resolveUnder(gatewayUrl, METADATA_PATH),
      CLIENT_ID,
      undefined,
      client.None(),
      {
        algorithm: 'oauth2',
        execute: plainHttp ? [client.allowInsecureRequests] : [],
        timeout: HTTP_TIMEOUT_S,
      },
    );
  } catch (err) {
    throw await explain(err, 'metadata', gateway);
  }
  const md = config.serverMetadata();
  const deviceAuthorizationEndpoint = sameOriginEndpoint(
    gatewayUrl,
    'device_authorization_endpoint',
    md.device_authorization_endpoint,
  );
  const tokenEndpoint = sameOriginEndpoint(gatewayUrl, 'token_endpoint', md.token_endpoint);
  const revocationEndpoint =
    md.revocation_endpoint === undefined
      ? null
      : sameOriginEndpoint(gatewayUrl, 'revocation_endpoint', md.revocation_endpoint);
  if (Array.isArray(md.grant_types_supported) && !md.grant_types_supported.includes(DEVICE_CODE_GRANT)) {
    throw new CliError(
      'ERR_BAD_METADATA',
      `${gateway} does not offer the device authorization grant that \`ocg login\` uses`,
    );
  }
  const version = (md as Record<string, unknown>).ocg_protocol_version;
  config.timeout = HTTP_TIMEOUT_S;
  return {
    gatewayUrl,
    issuer: md.issuer,
    tokenEndpoint,
    deviceAuthorizationEndpoint,
    revocationEndpoint,
    protocolVersion: typeof version === 'string' || typeof version === 'number' ? String(version) : null,
    config,
  };
}

/**
 * A Configuration rebuilt from the stored session, for refresh and revocation without a discovery round trip
 * (`ocg token` usually runs with no network call at all). The stored endpoints are checked again: same origin as
 * the gateway, plain http only on loopback.
 */
export function configurationFor(session: StoredSession, sessionPath: string): client.Configuration {
  const bad = (why: string) =>
    new CliError(
      'ERR_SESSION_CORRUPT',
      `the session file ${sessionPath} is corrupted (${why}): run \`ocg login <gateway-url>\` to replace it`,
    );
  let gatewayUrl: URL;
  try {
    gatewayUrl = parseGatewayUrl(session.gateway_url);
  } catch (err) {
    throw bad(err instanceof CliError ? err.message : 'bad gateway_url');
  }
  const check = (field: string, value: string | null) => {
    if (value === null) return undefined;
    try {
      return sameOriginEndpoint(gatewayUrl, field, value).href;
    } catch {
      throw bad(`"${field}" is not on the gateway's origin`);
    }
  };
  const revocation = check('revocation_endpoint', session.revocation_endpoint);
  const server: client.ServerMetadata = {
    issuer: session.issuer,
    token_endpoint: check('token_endpoint', session.token_endpoint),
    ...(revocation ? { revocation_endpoint: revocation } : {}),
  };
  const config = new client.Configuration(server, CLIENT_ID, undefined, client.None());
  if (allowsPlainHttp(gatewayUrl)) client.allowInsecureRequests(config);
  config.timeout = HTTP_TIMEOUT_S;
  return config;
}

export type DeviceAuthorization = client.DeviceAuthorizationResponse;

/** RFC 8628 §3.1–3.2. */
export async function startDeviceAuthorization(md: GatewayMetadata): Promise<DeviceAuthorization> {
  try {
    return await client.initiateDeviceAuthorization(md.config, {});
  } catch (err) {
    throw await explain(err, 'device_authorization', displayUrl(md.gatewayUrl));
  }
}

export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
}

/**
 * RFC 8628 §3.4–3.5: polls until the user approves (openid-client waits `interval`, adds 5 s on `slow_down`).
 * Stops with `ERR_DEVICE_CODE_EXPIRED` when the code's `expires_in` has passed, `ERR_CANCELLED` on `signal`.
 */
export async function pollForTokens(
  md: GatewayMetadata,
  device: DeviceAuthorization,
  signal: AbortSignal,
): Promise<Tokens> {
  const gateway = displayUrl(md.gatewayUrl);
  // The gateway answers `expired_token` once the code has expired; this ends the wait even if it never does.
  const expiry = AbortSignal.timeout((device.expires_in + 1) * 1000);
  try {
    return await client.pollDeviceAuthorizationGrant(md.config, device, undefined, {
      signal: AbortSignal.any([signal, expiry]),
    });
  } catch (err) {
    if (expiry.aborted && !signal.aborted) {
      throw new CliError(
        'ERR_DEVICE_CODE_EXPIRED',
        `the sign-in code expired before it was approved: run \`ocg login ${gateway}\` again`,
        { cause: err },
      );
    }
    throw await explain(err, 'poll', gateway);
  }
}

/** The refresh-token grant (RFC 6749 §6). `invalid_grant` → `ERR_SESSION_EXPIRED`. */
export async function refreshTokens(config: client.Configuration, session: StoredSession): Promise<Tokens> {
  if (session.refresh_token === null) {
    throw new CliError('ERR_SESSION_EXPIRED', `session expired: run \`ocg login ${session.gateway_url}\``);
  }
  try {
    return await client.refreshTokenGrant(config, session.refresh_token);
  } catch (err) {
    throw await explain(err, 'refresh', session.gateway_url);
  }
}

/** RFC 7009 revocation of one token. */
export async function revokeToken(
  config: client.Configuration,
  token: string,
  hint: 'refresh_token' | 'access_token',
  gateway: string,
): Promise<void> {
  try {
    await client.tokenRevocation(config, token, { token_type_hint: hint });
  } catch (err) {
    throw await explain(err, 'revoke', gateway);
  }
}
