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
 * - Parameters may not repeat (RFC 6749 §3.1); a parameter sent empty counts as absent. The token endpoint ignores
 *   parameters it does not know (RFC 6749 §3.1); the device authorization endpoint, which has only two, refuses them,
 *   so a client's typo is not silently dropped.
 */
import type { ServerResponse } from 'node:http';
import { isGatewayError } from '../errors.ts';
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

/** The configuration keys this module reads: `auth.*` of the gateway config (see session/config.fragment.json). */
export interface OAuthAuthConfig {
  /** The gateway's public base URL: RFC 8414 `issuer`, `iss` of access tokens, origin of every endpoint URL. */
  issuer: string;
  /** `aud` of access tokens. Default: the issuer. */
  audience?: string;
  /** Default 3600. */
  accessTokenTtlS?: number;
  /** Default 30. */
  clockToleranceS?: number;
  deviceAuthorization?: { expiresInS?: number; intervalS?: number };
  /** Default `DEFAULT_SCOPES`. */
  scopesSupported?: readonly string[];
}

export interface OAuthDeps {
  keyring: KeyRing;
  sessions: SessionManager;
  devices: DeviceAuthorizations;
  revocation: Revocation;
  config: { auth: OAuthAuthConfig };
  idpRecheck: IdpRecheck;
  /** Feature ids (requirements.yaml) this gateway implements, for `/.well-known/ocg-configuration`. */
  features: readonly string[];
  /** Profile ids whose features this gateway implements. Default: none listed. */
  profiles?: readonly string[];
  /** The protocol version (`info.version` of spec/openapi.yaml). */
  protocolVersion: string;
  /** Clock of issued access tokens (tests). */
  now?: Clock;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;
const CACHEABLE = { 'cache-control': 'public, max-age=300' } as const;
const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §5.2 error codes (and RFC 8628 §3.5, RFC 7009 §2.2.1). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'server_error'
  | 'temporarily_unavailable';

/**
 * An OAuth error answer. Local until the pipeline renders `GatewayError`'s `oauth` option; every OAuth answer here
 * goes through `sendOAuthError`, so the swap is one function.
 */
class OAuthProblem extends Error {
  readonly status: number;
  readonly error: OAuthErrorCode;
  readonly description: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    error: OAuthErrorCode,
    description: string,
    headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'OAuthProblem';
    this.status = status;
    this.error = error;
    this.description = description;
    this.headers = headers;
  }
}

const invalidRequest = (description: string) => new OAuthProblem(400, 'invalid_request', description);

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

function sendOAuthError(res: ServerResponse, problem: OAuthProblem): void {
  sendJson(
    res,
    problem.status,
    { error: problem.error, error_description: problem.description },
    { ...problem.headers, ...NO_STORE },
  );
}

/**
 * Runs an OAuth handler so that every answer is an OAuth one: its own problems, and also store outages and bugs
 * (`503 temporarily_unavailable`, `500 server_error`), each with `no-store`.
 */
function oauthHandler(handler: Handler): Handler {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      if (ctx.res.headersSent) throw err;
      let problem: OAuthProblem;
      if (err instanceof OAuthProblem) problem = err;
      else if (isGatewayError(err) && err.status === 503) {
        ctx.logger.warn('oauth request failed', { code: err.code, err });
        problem = new OAuthProblem(
          503,
          'temporarily_unavailable',
          'The gateway is unavailable; try again shortly.',
          {
            'retry-after': '5',
          },
        );
      } else {
        ctx.logger.error('unexpected error while serving an oauth request', { err });
        problem = new OAuthProblem(500, 'server_error', 'Internal gateway error.');
      }
      sendOAuthError(ctx.res, problem);
    }
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The request's form. Uses the pipeline's parsed form (`ctx.body.form`) when it provides one, else parses
 * `ctx.body.raw`. Anything but `application/x-www-form-urlencoded` (in UTF-8) is `invalid_request` — a JSON body
 * included, since RFC 6749 §3.2 and RFC 8628 §3.1 prescribe forms. A bodiless request counts as an empty form.
 */
export function readForm(ctx: RequestContext): URLSearchParams {
  const body = ctx.body as { raw?: Buffer; form?: unknown } | null;
  const raw = body?.raw ?? Buffer.alloc(0);
  const header = ctx.req.headers['content-type'];
  if (header === undefined) {
    if (raw.length === 0) return new URLSearchParams();
    throw invalidRequest(
      `The request body must be ${FORM} (RFC 6749 §3.2); the request has no content-type.`,
    );
  }
  const [mediaType = '', ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  if (mediaType !== FORM) {
    const shown = mediaType.slice(0, 100) || '(empty)';
    throw invalidRequest(
      mediaType === 'application/json' || mediaType.endsWith('+json')
        ? `The request body must be ${FORM} (RFC 6749 §3.2), not JSON.`
        : `The request body must be ${FORM} (RFC 6749 §3.2), not ${shown}.`,
    );
  }
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw invalidRequest('The form must be encoded in UTF-8.');
  }
  if (body?.form instanceof URLSearchParams) return body.form;
  let text: string;
  try {
    text = decoder.decode(raw);
  } catch {
    throw invalidRequest('The form is not valid UTF-8.');
  }
  return new URLSearchParams(text);
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

function refuseRepeats(form: URLSearchParams): void {
  for (const name of new Set(form.keys())) param(form, name);
}

/** RFC 6749 Appendix A: client_id is VSCHAR*. */
const CLIENT_ID = /^[\x20-\x7e]{1,255}$/;
/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function oauthHandlers(deps: OAuthDeps): Record<OAuthOperationId, Handler> {
  const auth = deps.config.auth;
  const base = auth.issuer.replace(/\/+$/, '');
  const issuer = auth.issuer;
  const audience = auth.audience ?? auth.issuer;
  const accessTokenTtlS = auth.accessTokenTtlS ?? 3600;
  const clockToleranceS = auth.clockToleranceS ?? 30;
  const expiresInS = auth.deviceAuthorization?.expiresInS ?? 600;
  const intervalS = auth.deviceAuthorization?.intervalS ?? 5;
  const scopesSupported = [...(auth.scopesSupported ?? DEFAULT_SCOPES)];
  const endpoints = {
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
  const metadata = {
    issuer,
    device_authorization_endpoint: endpoints.device_authorization,
    token_endpoint: endpoints.token,
    revocation_endpoint: endpoints.revocation,
    grant_types_supported: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    response_types_supported: [],
    scopes_supported: scopesSupported,
    ocg_protocol_version: deps.protocolVersion,
  };
  const ocgConfiguration = {
    protocol_version: deps.protocolVersion,
    features: [...deps.features],
    profiles: [...(deps.profiles ?? [])],
    endpoints,
  };
  const issueOptions = { issuer, audience, ttlS: accessTokenTtlS, ...(deps.now ? { now: deps.now } : {}) };

  /** The granted scope: the requested one when every token of it is supported; `invalid_scope` otherwise. */
  function checkScope(scope: string | undefined): string {
    if (scope === undefined) return '';
    const tokens = scope.split(' ');
    if (!tokens.every((t) => SCOPE_TOKEN.test(t))) {
      throw invalidRequest(
        'The parameter "scope" is malformed: space-separated scope tokens (RFC 6749 §3.3).',
      );
    }
    const unknown = tokens.filter((t) => !scopesSupported.includes(t));
    if (unknown.length > 0) {
      throw new OAuthProblem(
        400,
        'invalid_scope',
        `Unsupported scope ${unknown.map((t) => `"${t.slice(0, 64)}"`).join(', ')}; this gateway supports ${scopesSupported.map((t) => `"${t}"`).join(', ')}.`,
      );
    }
    return [...new Set(tokens)].join(' ');
  }

  async function tokenResponse(
    ctx: RequestContext,
    session: SessionRecord,
    refreshToken: string,
    scope: string,
  ): Promise<void> {
    const { token, expiresIn } = await issueAccessToken(
      deps.keyring,
      issueOptions,
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
    const poll = await deps.devices.pollDeviceAuthorization(deviceCode);
    switch (poll.status) {
      case 'pending':
        throw new OAuthProblem(
          400,
          'authorization_pending',
          'The user has not approved the sign-in yet; keep polling at the interval.',
        );
      case 'slow_down':
        throw new OAuthProblem(
          400,
          'slow_down',
          `Polling too fast; wait at least ${poll.interval} seconds between polls from now on.`,
        );
      case 'denied':
        throw new OAuthProblem(400, 'access_denied', 'The user denied the sign-in.');
      case 'expired':
        throw new OAuthProblem(400, 'expired_token', 'The device code has expired; start the sign-in again.');
      case 'invalid_grant':
        throw new OAuthProblem(400, 'invalid_grant', 'The device code is unknown or was already used.');
      case 'approved':
        break;
    }
    // The code is consumed now: whatever happens below, it never works again.
    if (clientId !== undefined && poll.clientId !== '' && clientId !== poll.clientId) {
      await deps.revocation.revokeSession(poll.sessionId, 'device_code_client_mismatch');
      throw new OAuthProblem(400, 'invalid_grant', 'The device code was issued to another client.');
    }
    let refreshToken: string;
    try {
      refreshToken = await deps.sessions.issueInitialRefreshToken(poll.sessionId);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'ERR_INVALID_GRANT') {
        throw new OAuthProblem(400, 'invalid_grant', 'The sign-in was revoked or has ended; start it again.');
      }
      throw err;
    }
    const session = await deps.sessions.getSession(poll.sessionId);
    if (!session || session.revokedAt !== null) {
      throw new OAuthProblem(400, 'invalid_grant', 'The sign-in was revoked or has ended; start it again.');
    }
    await tokenResponse(ctx, session, refreshToken, poll.scope);
    ctx.logger.info('tokens issued', {
      grant_type: DEVICE_CODE_GRANT,
      session_id: session.id,
      subject: session.subject,
    });
  }

  const refreshFailed = (description: string) => new OAuthProblem(401, 'invalid_grant', description);

  async function refreshTokenGrant(ctx: RequestContext, form: URLSearchParams): Promise<void> {
    const presented = required(form, 'refresh_token', 'the refresh_token from the last token answer');
    const scope = checkScope(param(form, 'scope'));
    // Ask the IdP before spending the refresh token: if the IdP cannot be reached the client keeps a valid token
    // and may retry, instead of its retry counting as reuse. A token that is not live goes straight to the rotation,
    // which gives the precise refusal (and revokes the session on reuse).
    const live = await deps.sessions.peekRefreshToken(presented);
    if (live) {
      let verdict: IdpRecheckResult;
      try {
        verdict = await deps.idpRecheck.recheck(live);
      } catch (err) {
        ctx.logger.warn('idp re-check failed; refresh refused for now', { session_id: live.id, err });
        throw new OAuthProblem(
          503,
          'temporarily_unavailable',
          'The identity provider could not be reached to re-check the account; try again shortly.',
          { 'retry-after': '5' },
        );
      }
      if (!verdict.ok) {
        await deps.revocation.revokeSession(live.id, IDP_USER_DISABLED);
        ctx.logger.info('session revoked: the identity provider refused the user', {
          session_id: live.id,
          subject: live.subject,
          reason: verdict.reason,
        });
        throw refreshFailed('The identity provider no longer accepts this account; sign in again.');
      }
      await deps.sessions.updateSessionIdentity(live.id, verdict.identity, verdict.idpRefreshToken ?? null);
    }
    let rotated: { session: SessionRecord; refreshToken: string };
    try {
      rotated = await deps.sessions.rotateRefreshToken(presented);
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
    try {
      const principal = await verifyAccessToken(deps.keyring, deps.revocation, token, {
        issuer,
        audience,
        clockToleranceS,
      });
      if (principal.sessionId === null) return false;
      await deps.revocation.revokeSession(principal.sessionId, 'logout');
      return true;
    } catch (err) {
      if (isGatewayError(err) && err.code === 'ERR_UNAUTHENTICATED') return false;
      throw err;
    }
  }

  return {
    async getAuthorizationServerMetadata({ res }) {
      sendJson(res, 200, metadata, CACHEABLE);
    },

    async getOcgConfiguration({ res }) {
      sendJson(res, 200, ocgConfiguration, CACHEABLE);
    },

    startDeviceAuthorization: oauthHandler(async (ctx) => {
      const form = readForm(ctx);
      for (const name of new Set(form.keys())) {
        if (name !== 'client_id' && name !== 'scope') {
          throw invalidRequest(
            `Unknown parameter "${name.slice(0, 64)}"; this endpoint accepts only client_id and scope (both optional).`,
          );
        }
      }
      const clientId = param(form, 'client_id') ?? '';
      if (clientId !== '' && !CLIENT_ID.test(clientId)) {
        throw invalidRequest('The parameter "client_id" is malformed: 1 to 255 printable ASCII characters.');
      }
      const scope = checkScope(param(form, 'scope'));
      const started = await deps.devices.startDeviceAuthorization({ clientId, scope, expiresInS, intervalS });
      sendJson(
        ctx.res,
        200,
        {
          device_code: started.deviceCode,
          user_code: started.userCode,
          verification_uri: endpoints.verification,
          verification_uri_complete: `${endpoints.verification}?user_code=${encodeURIComponent(started.userCode)}`,
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
      const form = readForm(ctx);
      refuseRepeats(form);
      const grantType = param(form, 'grant_type');
      if (grantType === undefined) {
        throw invalidRequest(
          `The parameter "grant_type" is missing: use "${DEVICE_CODE_GRANT}" or "${REFRESH_TOKEN_GRANT}".`,
        );
      }
      if (grantType === DEVICE_CODE_GRANT) return deviceCodeGrant(ctx, form);
      if (grantType === REFRESH_TOKEN_GRANT) return refreshTokenGrant(ctx, form);
      throw new OAuthProblem(
        400,
        'unsupported_grant_type',
        `Unsupported grant_type "${grantType.slice(0, 100)}"; this gateway supports "${DEVICE_CODE_GRANT}" and "${REFRESH_TOKEN_GRANT}".`,
      );
    }),

    revokeToken: oauthHandler(async (ctx) => {
      const form = readForm(ctx);
      refuseRepeats(form);
      const token = required(form, 'token', 'the refresh token or access token to revoke');
      // RFC 7009 §2.1: the hint only speeds up the lookup; the two kinds cannot be confused (a JWT has dots).
      const looksLikeJwt = token.split('.').length === 3;
      const revoked = looksLikeJwt
        ? await revokeAccessToken(token)
        : await deps.sessions.revokeByRefreshToken(token, 'logout');
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
