/**
 * The gateway as an OAuth authorization server to its clients: RFC 8414 metadata (`getAuthorizationServerMetadata`),
 * the OCG self-description (`getOcgConfiguration`), RFC 8628 device authorization (`startDeviceAuthorization`), the
 * token endpoint with the device-code and refresh-token grants (`exchangeToken`) and RFC 7009 revocation
 * (`revokeToken`).
 *
 * Serves DISCOVERY-4, DISCOVERY-5, SESSION-1, SESSION-2, SESSION-4, SESSION-13 … SESSION-17. The rules themselves
 * (code entropy, single use, slow_down, rotation, reuse revoking the session) live in `src/session/`; this module
 * maps their outcomes onto the wire:
 * - Every OAuth error is an RFC 6749 §5.2 object `{error, error_description}`; the descriptions say what to do and
 *   never contain a code or token.
 * - Device-grant failures are `400`; every refresh-grant failure is `401 invalid_grant`, which makes Claude Code
 *   sign in again (the deprovisioning hook).
 * - Device-authorization and token answers, errors included, carry `Cache-Control: no-store` and `Pragma: no-cache`
 *   (RFC 6749 §5.1, RFC 8628 §3.2): they hold credentials.
 * - A parameter an endpoint uses may not repeat (RFC 6749 §3.1); one sent empty counts as absent. Parameters an
 *   endpoint does not know are ignored, repeated or not (RFC 6749 §3.1; RFC 8707 `resource` may repeat): Claude
 *   Code 2.1.332 posts `surface=claude_code` to the device authorization endpoint.
 * - The refresh grant asks the IdP before it spends the refresh token (`sessions.peekRefreshToken`), so an IdP
 *   outage answers `503 temporarily_unavailable` and the client's retry with the same token still works.
 */
import type { ServerResponse } from 'node:http';
import { loadOpenApi, loadRequirements } from '@ocg/spec';
import { GatewayError, isGatewayError, type OAuthErrorCode } from '../errors.ts';
import type { Handler, RequestContext } from '../http/context.ts';
import { issueAccessToken, verifyAccessToken } from '../session/access-token.ts';
import type { DeviceAuthorizations } from '../session/device-codes.ts';
import type { KeyRing } from '../session/keys.ts';
import type { Revocation } from '../session/revocation.ts';
import { type SessionManager, type SessionRecord, sessionPrincipal } from '../session/sessions.ts';
import type { Clock } from '../session/util.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
/** The reason recorded on a session the IdP no longer vouches for. */
export const IDP_USER_DISABLED = 'idp_user_disabled';
/**
 * The one scope a gateway session grants: the bearer endpoints the user's policy allows. A client may ask for it or
 * for nothing; clients such as Claude Code send no scope at all.
 */
export const DEFAULT_SCOPES: readonly string[] = ['gateway'];

export type OAuthOperationId =
  | 'getAuthorizationServerMetadata'
  | 'getOcgConfiguration'
  | 'startDeviceAuthorization'
  | 'exchangeToken'
  | 'revokeToken';

/** What the IdP says about a user when a session is refreshed. */
export interface IdpIdentity {
  email: string | null;
  name: string | null;
  groups: string[];
}

export type IdpRecheckResult =
  /** The user is still active; `identity` replaces the session's (groups may have changed). */
  | { ok: true; identity: IdpIdentity; idpRefreshToken?: string | null }
  /** The IdP refused the user (disabled, removed, grant revoked): the session ends. `reason` is logged, not shown. */
  | { ok: false; reason: string };

/**
 * Re-checks a session's user at the IdP on every refresh (implemented by `src/signin/recheck.ts`). Resolve
 * `{ok:false}` only for a verdict about the user; throw when the IdP cannot be asked (network, 5xx): the client then
 * gets `503 temporarily_unavailable` and keeps its refresh token, which stays valid.
 */
export interface IdpRecheck {
  recheck(session: SessionRecord): Promise<IdpRecheckResult>;
}

/** The configuration keys this module reads (`auth.*` of the gateway config; see session/config.fragment.json). */
export interface OAuthAuthConfig {
  /** Default 3600. */
  accessTokenTtlS?: number;
  /** Default 30. */
  clockToleranceS?: number;
  deviceAuthorization?: { expiresInS?: number; intervalS?: number };
}

/** The session modules the endpoints run on (`GatewayServices['signIn']`). */
export interface OAuthSessionModules {
  keyring: KeyRing;
  sessions: SessionManager;
  devices: DeviceAuthorizations;
  revocation: Revocation;
}

/**
 * Shaped so that `oauthHandlers({ ...services, idpRecheck })` works with the gateway's `GatewayServices`.
 */
export interface OAuthDeps {
  /** Null when sign-in is not configured: discovery still answers, the OAuth endpoints answer 404. */
  signIn: OAuthSessionModules | null;
  config: { auth: OAuthAuthConfig };
  /** The gateway's public base URL without a trailing slash: RFC 8414 `issuer`, `iss`, origin of every endpoint. */
  publicUrl(): string;
  /** The `aud` of access tokens. */
  audience(): string;
  /** Feature ids (requirements.yaml) this gateway implements, for `/.well-known/ocg-configuration`. */
  features: readonly string[];
  /** The IdP re-check of the refresh grant; null only when sign-in is not configured (a refresh then fails closed). */
  idpRecheck: IdpRecheck | null;
  /** Default: every profile of requirements.yaml whose features (and its base profile's) are all in `features`. */
  profiles?: readonly string[];
  /** Default: `info.version` of spec/openapi.yaml. */
  protocolVersion?: string;
  /** Clock of issued access tokens (tests). */
  now?: Clock;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;
const CACHEABLE = { 'cache-control': 'public, max-age=300' } as const;
const FORM = 'application/x-www-form-urlencoded';

/** An RFC 6749 error answer (the pipeline renders it as `{error, error_description}` with `no-store`). */
function oauthError(
  status: number,
  error: OAuthErrorCode,
  description: string,
  headers: Record<string, string> = {},
): GatewayError {
  return new GatewayError('ERR_OAUTH', description, { status, oauth: error, headers });
}

const invalidRequest = (description: string) => oauthError(400, 'invalid_request', description);

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string>,
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Runs an OAuth handler so that every failure is an OAuth answer: a store outage is `503 temporarily_unavailable`,
 * anything unexpected `500 server_error` (logged; the description says nothing about the cause).
 */
function oauthHandler(handler: Handler): Handler {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      if (isGatewayError(err) && err.oauth !== null) throw err;
      if (isGatewayError(err) && err.status === 503) {
        throw new GatewayError(err.code, 'The gateway is unavailable; try again shortly.', {
          status: 503,
          oauth: 'temporarily_unavailable',
          headers: { 'retry-after': '5' },
          cause: err,
        });
      }
      if (isGatewayError(err)) throw err; // the pipeline renders it as an OAuth error on /oauth/ paths
      if (ctx.signal.aborted) throw err;
      ctx.logger.error('unexpected error while serving an oauth request', { err });
      throw new GatewayError('ERR_INTERNAL', 'Internal gateway error.', {
        oauth: 'server_error',
        cause: err,
      });
    }
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The request's form, parsed from `ctx.body.raw` in strict UTF-8 (the pipeline's `ctx.body.form` decodes leniently).
 * An empty or absent body is an empty form (Claude Code posts one). A body that is not
 * `application/x-www-form-urlencoded` in UTF-8 is `invalid_request` — JSON included: RFC 6749 §3.2 and RFC 8628 §3.1
 * prescribe forms. (The pipeline refuses most of these before the handler runs; this repeats the check for callers
 * that build the context themselves, with the clearer message.)
 */
export function readForm(ctx: RequestContext): URLSearchParams {
  const raw = ctx.body?.raw ?? Buffer.alloc(0);
  if (raw.length === 0) return new URLSearchParams();
  const header = ctx.req.headers['content-type'];
  if (header === undefined) {
    throw invalidRequest(
      `The request body must be ${FORM} (RFC 6749 §3.2); the request has no content-type.`,
    );
  }
  const [mediaType = '', ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  if (mediaType !== FORM) {
    throw invalidRequest(
      mediaType === 'application/json' || mediaType.endsWith('+json')
        ? `The request body must be ${FORM} (RFC 6749 §3.2), not JSON.`
        : `The request body must be ${FORM} (RFC 6749 §3.2), not ${mediaType.slice(0, 100) || '(empty)'}.`,
    );
  }
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw invalidRequest('The form must be encoded in UTF-8.');
  }
  try {
    return new URLSearchParams(decoder.decode(raw));
  } catch {
    throw invalidRequest('The form is not valid UTF-8.');
  }
}

/** One parameter: undefined when absent or empty (RFC 6749 §3.1), `invalid_request` when repeated. */
function param(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) {
    throw invalidRequest(`The parameter "${name}" is repeated; send it once (RFC 6749 §3.1).`);
  }
  const value = values[0];
  return value === undefined || value === '' ? undefined : value;
}

function required(form: URLSearchParams, name: string, what: string): string {
  const value = param(form, name);
  if (value === undefined) throw invalidRequest(`The parameter "${name}" is missing: ${what}.`);
  return value;
}

/** RFC 6749 Appendix A: client_id is VSCHAR*. */
const CLIENT_ID = /^[\x20-\x7e]{1,255}$/;
/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** RFC 6749 scopes this gateway grants (see `DEFAULT_SCOPES`). */
const SCOPES_SUPPORTED: readonly string[] = DEFAULT_SCOPES;

/** The granted scope: the requested one when every token of it is supported; `invalid_scope` otherwise. */
function checkScope(scope: string | undefined): string {
  if (scope === undefined) return '';
  const tokens = scope.split(' ');
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) {
    throw invalidRequest('The parameter "scope" is malformed: space-separated scope tokens (RFC 6749 §3.3).');
  }
  const unknown = tokens.filter((t) => !SCOPES_SUPPORTED.includes(t));
  if (unknown.length > 0) {
    const named = unknown.map((t) => `"${t.slice(0, 64)}"`).join(', ');
    const supported = SCOPES_SUPPORTED.map((t) => `"${t}"`).join(', ');
    throw oauthError(400, 'invalid_scope', `Unsupported scope ${named}; this gateway supports ${supported}.`);
  }
  return [...new Set(tokens)].join(' ');
}

function endpointsOf(base: string) {
  return {
    authorization_server_metadata: `${base}/.well-known/oauth-authorization-server`,
    device_authorization: `${base}/oauth/device_authorization`,
    token: `${base}/oauth/token`,
    revocation: `${base}/oauth/revoke`,
    verification: `${base}/device`,
    managed_settings: `${base}/managed/settings`,
    models: `${base}/v1/models`,
    messages: `${base}/v1/messages`,
    protocol: `${base}/protocol`,
  };
}

/** `info.version` of the spec, read once. */
async function specVersion(): Promise<string> {
  const info = (await loadOpenApi()).info as { version?: unknown } | undefined;
  return typeof info?.version === 'string' ? info.version : 'unknown';
}

/**
 * Profiles whose every feature this gateway implements, including the features of the profiles they extend.
 */
export async function implementedProfiles(features: readonly string[]): Promise<string[]> {
  const doc = await loadRequirements();
  const have = new Set(features);
  const complete = (id: string, seen: Set<string>): boolean => {
    if (seen.has(id)) return true;
    seen.add(id);
    const profile = doc.profiles.find((p) => p.id === id);
    if (!profile) return false;
    const own = doc.features.filter((f) => f.profile === id);
    return (
      own.every((f) => have.has(f.id)) && (profile.extends === undefined || complete(profile.extends, seen))
    );
  };
  return doc.profiles.filter((p) => complete(p.id, new Set())).map((p) => p.id);
}

export function oauthHandlers(deps: OAuthDeps): Record<OAuthOperationId, Handler> {
  const auth = deps.config.auth;
  const accessTokenTtlS = auth.accessTokenTtlS ?? 3600;
  const clockToleranceS = auth.clockToleranceS ?? 30;
  const expiresInS = auth.deviceAuthorization?.expiresInS ?? 600;
  const intervalS = auth.deviceAuthorization?.intervalS ?? 5;
  const base = () => deps.publicUrl().replace(/\/+$/, '');
  let described: Promise<{ version: string; profiles: string[] }> | undefined;
  const describe = () => {
    described ??= (async () => ({
      version: deps.protocolVersion ?? (await specVersion()),
      profiles: deps.profiles ? [...deps.profiles] : await implementedProfiles(deps.features),
    }))();
    return described;
  };

  function modules(): OAuthSessionModules {
    if (deps.signIn) return deps.signIn;
    throw new GatewayError('ERR_NOT_FOUND', 'Sign-in is not configured on this gateway (no auth.oidc).', {
      status: 404,
      oauth: 'invalid_request',
    });
  }

  async function tokenResponse(
    ctx: RequestContext,
    session: SessionRecord,
    refreshToken: string,
    scope: string,
  ): Promise<void> {
    const options = {
      issuer: base(),
      audience: deps.audience(),
      ttlS: accessTokenTtlS,
      ...(deps.now ? { now: deps.now } : {}),
    };
    const { token, expiresIn } = await issueAccessToken(
      modules().keyring,
      options,
      sessionPrincipal(session),
    );
    sendJson(
      ctx.res,
      200,
      {
        access_token: token,
        token_type: 'Bearer',
        expires_in: expiresIn,
        refresh_token: refreshToken,
        ...(scope ? { scope } : {}),
      },
      NO_STORE,
    );
  }

  async function deviceCodeGrant(ctx: RequestContext, form: URLSearchParams): Promise<void> {
    const deviceCode = required(form, 'device_code', 'the device_code from the device authorization answer');
    const clientId = param(form, 'client_id');
    const poll = await modules().devices.pollDeviceAuthorization(deviceCode);
    switch (poll.status) {
      case 'pending':
        throw oauthError(
          400,
          'authorization_pending',
          'The user has not approved the sign-in yet; keep polling at the interval.',
        );
      case 'slow_down':
        throw oauthError(
          400,
          'slow_down',
          `Polling too fast; wait at least ${poll.interval} seconds between polls from now on.`,
        );
      case 'denied':
        throw oauthError(400, 'access_denied', 'The user denied the sign-in.');
      case 'expired':
        throw oauthError(400, 'expired_token', 'The device code has expired; start the sign-in again.');
      case 'invalid_grant':
        throw oauthError(400, 'invalid_grant', 'The device code is unknown or was already used.');
      case 'approved':
        break;
    }
    // The code is consumed now: whatever happens below, it never works again.
    if (clientId !== undefined && poll.clientId !== '' && clientId !== poll.clientId) {
      await modules().revocation.revokeSession(poll.sessionId, 'device_code_client_mismatch');
      throw oauthError(400, 'invalid_grant', 'The device code was issued to another client.');
    }
    let refreshToken: string;
    try {
      refreshToken = await modules().sessions.issueInitialRefreshToken(poll.sessionId);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'ERR_INVALID_GRANT') {
        throw oauthError(400, 'invalid_grant', 'The sign-in was revoked or has ended; start it again.');
      }
      throw err;
    }
    const session = await modules().sessions.getSession(poll.sessionId);
    if (!session || session.revokedAt !== null) {
      throw oauthError(400, 'invalid_grant', 'The sign-in was revoked or has ended; start it again.');
    }
    await tokenResponse(ctx, session, refreshToken, poll.scope);
    ctx.logger.info('tokens issued', {
      grant_type: DEVICE_CODE_GRANT,
      session_id: session.id,
      subject: session.subject,
    });
  }

  const refreshFailed = (description: string) => oauthError(401, 'invalid_grant', description);

  async function refreshTokenGrant(ctx: RequestContext, form: URLSearchParams): Promise<void> {
    const presented = required(form, 'refresh_token', 'the refresh_token from the last token answer');
    const scope = checkScope(param(form, 'scope'));
    // Ask the IdP before spending the refresh token: if the IdP cannot be reached the client keeps a valid token
    // and may retry, instead of its retry counting as reuse. A token that is not live goes straight to the rotation,
    // which gives the precise refusal (and revokes the session on reuse).
    const live = await modules().sessions.peekRefreshToken(presented);
    if (live) {
      if (!deps.idpRecheck) {
        throw new GatewayError('ERR_INTERNAL', 'The IdP re-check is not configured; refresh refused.', {
          oauth: 'server_error',
        });
      }
      let verdict: IdpRecheckResult;
      try {
        verdict = await deps.idpRecheck.recheck(live);
      } catch (err) {
        ctx.logger.warn('idp re-check failed; refresh refused for now', { session_id: live.id, err });
        throw oauthError(
          503,
          'temporarily_unavailable',
          'The identity provider could not be reached to re-check the account; try again shortly.',
          { 'retry-after': '5' },
        );
      }
      if (!verdict.ok) {
        await modules().revocation.revokeSession(live.id, IDP_USER_DISABLED);
        ctx.logger.info('session revoked: the identity provider refused the user', {
          session_id: live.id,
          subject: live.subject,
          reason: verdict.reason,
        });
        throw refreshFailed('The identity provider no longer accepts this account; sign in again.');
      }
      await modules().sessions.updateSessionIdentity(
        live.id,
        verdict.identity,
        verdict.idpRefreshToken ?? null,
      );
    }
    let rotated: { session: SessionRecord; refreshToken: string };
    try {
      rotated = await modules().sessions.rotateRefreshToken(presented);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'ERR_INVALID_GRANT') {
        ctx.logger.info('refresh refused', { grant_type: REFRESH_TOKEN_GRANT, reason: err.message });
        throw refreshFailed(err.message);
      }
      throw err;
    }
    if (!live || rotated.session.id !== live.id) {
      // Unreachable in practice (a token that was not live cannot rotate); never issue without an IdP verdict.
      throw refreshFailed('The refresh token is invalid.');
    }
    await tokenResponse(ctx, rotated.session, rotated.refreshToken, scope);
    ctx.logger.info('tokens issued', {
      grant_type: REFRESH_TOKEN_GRANT,
      session_id: rotated.session.id,
      subject: rotated.session.subject,
    });
  }

  /** True when `token` is a gateway access token we can still verify: its session is then revoked. */
  async function revokeAccessToken(token: string): Promise<boolean> {
    const m = modules();
    try {
      const principal = await verifyAccessToken(m.keyring, m.revocation, token, {
        issuer: base(),
        audience: deps.audience(),
        clockToleranceS,
      });
      if (principal.sessionId === null) return false;
      await m.revocation.revokeSession(principal.sessionId, 'logout');
      return true;
    } catch (err) {
      if (isGatewayError(err) && err.code === 'ERR_UNAUTHENTICATED') return false;
      throw err;
    }
  }

  return {
    async getAuthorizationServerMetadata({ res }) {
      if (!deps.signIn) {
        throw new GatewayError('ERR_NOT_FOUND', 'Sign-in is not configured on this gateway (no auth.oidc).');
      }
      const endpoints = endpointsOf(base());
      sendJson(
        res,
        200,
        {
          issuer: base(),
          device_authorization_endpoint: endpoints.device_authorization,
          token_endpoint: endpoints.token,
          revocation_endpoint: endpoints.revocation,
          grant_types_supported: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
          token_endpoint_auth_methods_supported: ['none'],
          revocation_endpoint_auth_methods_supported: ['none'],
          response_types_supported: [],
          scopes_supported: [...SCOPES_SUPPORTED],
          ocg_protocol_version: (await describe()).version,
        },
        CACHEABLE,
      );
    },

    async getOcgConfiguration({ res }) {
      const { version, profiles } = await describe();
      sendJson(
        res,
        200,
        { protocol_version: version, features: [...deps.features], profiles, endpoints: endpointsOf(base()) },
        CACHEABLE,
      );
    },

    startDeviceAuthorization: oauthHandler(async (ctx) => {
      const m = modules();
      const form = readForm(ctx);
      const clientId = param(form, 'client_id') ?? '';
      if (clientId !== '' && !CLIENT_ID.test(clientId)) {
        throw invalidRequest('The parameter "client_id" is malformed: 1 to 255 printable ASCII characters.');
      }
      const scope = checkScope(param(form, 'scope'));
      const started = await m.devices.startDeviceAuthorization({ clientId, scope, expiresInS, intervalS });
      const verification = endpointsOf(base()).verification;
      sendJson(
        ctx.res,
        200,
        {
          device_code: started.deviceCode,
          user_code: started.userCode,
          verification_uri: verification,
          verification_uri_complete: `${verification}?user_code=${encodeURIComponent(started.userCode)}`,
          expires_in: started.expiresIn,
          interval: started.interval,
        },
        NO_STORE,
      );
      ctx.logger.info('device authorization started', {
        client_id: clientId || null,
        expires_in: started.expiresIn,
      });
    }),

    exchangeToken: oauthHandler(async (ctx) => {
      modules();
      const form = readForm(ctx);
      const grantType = param(form, 'grant_type');
      if (grantType === undefined) {
        throw invalidRequest(
          `The parameter "grant_type" is missing: use "${DEVICE_CODE_GRANT}" or "${REFRESH_TOKEN_GRANT}".`,
        );
      }
      if (grantType === DEVICE_CODE_GRANT) return deviceCodeGrant(ctx, form);
      if (grantType === REFRESH_TOKEN_GRANT) return refreshTokenGrant(ctx, form);
      throw oauthError(
        400,
        'unsupported_grant_type',
        `Unsupported grant_type "${grantType.slice(0, 100)}"; this gateway supports "${DEVICE_CODE_GRANT}" and "${REFRESH_TOKEN_GRANT}".`,
      );
    }),

    revokeToken: oauthHandler(async (ctx) => {
      const m = modules();
      const form = readForm(ctx);
      const token = required(form, 'token', 'the refresh token or access token to revoke');
      // RFC 7009 §2.1: the hint only speeds up the lookup; the two kinds cannot be confused (a JWT has dots).
      const looksLikeJwt = token.split('.').length === 3;
      const revoked = looksLikeJwt
        ? await revokeAccessToken(token)
        : await m.sessions.revokeByRefreshToken(token, 'logout');
      ctx.logger.info('revocation', {
        token_kind: looksLikeJwt ? 'access_token' : 'refresh_token',
        known: revoked,
      });
      // RFC 7009 §2.2: 200 whether or not the token was known, so the answer tells an attacker nothing.
      ctx.res.writeHead(200, { ...NO_STORE, 'content-length': '0' });
      ctx.res.end();
    }),
  };
}
