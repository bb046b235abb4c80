/**
 * The browser side of the device flow: the verification page (`GET`/`POST /device`) and the OIDC callback
 * (`GET /oauth/callback`). Serves SESSION-3, SESSION-5 … SESSION-10.
 *
 * 1. `GET /device` renders the form. A `?user_code=` only pre-fills it: nothing is looked up or submitted (RFC 8628
 *    §5.4), so the page is no oracle for guessing codes either.
 * 2. `POST /device`, in this order: same-origin check (`Sec-Fetch-Site`, `Origin`) → anti-forgery token bound to the
 *    `ocg_csrf` cookie → attempt limits per client address and per code → the code must be pending and unexpired
 *    → the authorization is bound to this browser (`devices.bindBrowser`, a secret in the `ocg_device` cookie).
 *    `deny` denies it there; `approve` seals PKCE verifier, `state` and `nonce` into `ocg_device` and answers `303`
 *    to the IdP (authorization code + PKCE S256 + state + nonce).
 * 3. `GET /oauth/callback`: the `ocg_device` cookie must be there and its `state` must match; the code is exchanged
 *    with the verifier, the ID token validated (signature against the IdP's JWKS, `iss`, `aud`, `exp`, `nonce`), the
 *    claims mapped (`claims.ts`), a pending session created (IdP refresh token encrypted) and the device code
 *    approved for this browser only. Every outcome spends the cookie's `state`, so a callback URL cannot be replayed.
 *
 * Every failure is a page with its own status and `data-error` (`pages.ts`); these handlers never throw.
 */
import type { IncomingMessage } from 'node:http';
import * as oidc from 'openid-client';
import type { RequestContext } from '../http/context.ts';
import type { Logger } from '../log/logger.ts';
import type { DeviceAuthorizationInfo, DeviceAuthorizations } from '../session/device-codes.ts';
import { formatUserCode, normaliseUserCode } from '../session/device-codes.ts';
import type { Kek } from '../session/kek.ts';
import type { SessionManager } from '../session/sessions.ts';
import { type Clock, systemClock } from '../session/util.ts';
import { mapClaims } from './claims.ts';
import { type OidcConfig, redirectUriFor } from './config.ts';
import { cookieNames, parseCookies, serializeCookie } from './cookies.ts';
import {
  browserSecretFor,
  csrfToken,
  equalSecrets,
  type Flow,
  newCsrfSecret,
  openFlow,
  sealFlow,
  verifyCsrfToken,
} from './flow.ts';
import { createOidcRp, describeOidcError, type OidcRp, type OidcRpOptions } from './oidc.ts';
import {
  approvedPage,
  deniedPage,
  type ErrorPageInput,
  errorPage,
  PAGE_ERRORS,
  type PageError,
  type RenderedPage,
  send,
  sendRedirect,
  verificationPage,
} from './pages.ts';
import { createRateLimiter, type LimitRule, type RateLimiter } from './rate-limit.ts';
import { checkSameOrigin, defaultClientAddress, postedForm, single } from './request.ts';

export interface SigninLimits {
  /** Form posts per client address (default 30 per 10 min). */
  perAddress: LimitRule;
  /** Failed code lookups per client address: unknown, malformed, expired or used codes (default 10 per 10 min). */
  failuresPerAddress: LimitRule;
  /** Form posts per user code, from anywhere (default 10 per 10 min). */
  perCode: LimitRule;
}

export const DEFAULT_LIMITS: SigninLimits = {
  perAddress: { limit: 30, windowS: 600 },
  failuresPerAddress: { limit: 10, windowS: 600 },
  perCode: { limit: 10, windowS: 600 },
};

/** Longest a sign-in may spend at the IdP (the flow cookie's lifetime, capped by the device code's expiry). */
const MAX_FLOW_MS = 15 * 60 * 1000;
const FLOW_COOKIE_GRACE_S = 300;
const CSRF_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const IDP_DENIALS = new Set([
  'access_denied',
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
]);

export interface SigninDeps {
  /** `auth.oidc` with defaults; absent: sign-in is not configured and the pages say so (503). */
  oidc: OidcConfig | undefined;
  /**
   * The gateway's public base URL (`auth.issuer`): its origin is the only one allowed to post the form, and the
   * default redirect URI hangs off it. A function when it is known only after listening (development profile).
   */
  publicUrl: string | (() => string);
  /** Absolute lifetime of the session a sign-in creates (`auth.sessionMaxAgeS`). */
  sessionTtlS: number;
  kek: Kek;
  sessions: Pick<SessionManager, 'createPendingSession'>;
  devices: Pick<DeviceAuthorizations, 'findByUserCode' | 'bindBrowser' | 'approve' | 'deny'>;
  logger: Logger;
  /** Shared with the refresh re-check (one discovery); built from `oidc` when absent. */
  rp?: OidcRp;
  rpOptions?: OidcRpOptions;
  limits?: Partial<SigninLimits>;
  /** The key attempt limits use (default: the peer address, IPv6 by /64). Override behind a reverse proxy. */
  clientAddress?: (req: IncomingMessage) => string;
  now?: Clock;
}

export interface SigninPages {
  showVerificationPage(ctx: RequestContext): Promise<void>;
  submitVerificationPage(ctx: RequestContext): Promise<void>;
  completeIdpSignIn(ctx: RequestContext): Promise<void>;
  /** The in-memory attempt counters (tests reset them). */
  readonly limiters: Readonly<Record<keyof SigninLimits, RateLimiter>>;
}

type Ctx = Pick<RequestContext, 'req' | 'res' | 'url' | 'body' | 'logger'>;

export function createSigninPages(deps: SigninDeps): SigninPages {
  const now = deps.now ?? systemClock;
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const limiters = {
    perAddress: createRateLimiter(limits.perAddress, { now }),
    failuresPerAddress: createRateLimiter(limits.failuresPerAddress, { now }),
    perCode: createRateLimiter(limits.perCode, { now }),
  };
  const clientAddress = deps.clientAddress ?? defaultClientAddress;
  const rp = deps.oidc ? (deps.rp ?? createOidcRp(deps.oidc, deps.rpOptions)) : undefined;

  const publicUrl = () =>
    (typeof deps.publicUrl === 'string' ? deps.publicUrl : deps.publicUrl()).replace(/\/+$/, '');
  const secure = () => publicUrl().startsWith('https:');
  const names = () => cookieNames(secure());
  const deviceUrl = () => `${publicUrl()}/device`;
  const gatewayName = () => new URL(publicUrl()).host;

  /** The browser's CSRF secret, and the Set-Cookie that creates it when it has none (or a malformed one). */
  function csrfSecretOf(req: IncomingMessage): { secret: string; setCookie: string | null } {
    const existing = parseCookies(req.headers.cookie).get(names().csrf);
    if (existing && CSRF_SHAPE.test(existing)) return { secret: existing, setCookie: null };
    const secret = newCsrfSecret();
    return { secret, setCookie: serializeCookie(names().csrf, secret, { secure: secure() }) };
  }

  /** Outlives the flow by a grace period, so a late callback gets "expired" rather than "no sign-in here". */
  function flowCookie(value: string, expiresAt: number): string {
    return serializeCookie(names().device, value, {
      secure: secure(),
      maxAgeS: Math.ceil((expiresAt - now()) / 1000) + FLOW_COOKIE_GRACE_S,
    });
  }

  function clearFlowCookie(): string {
    return serializeCookie(names().device, '', { secure: secure(), maxAgeS: 0 });
  }

  async function currentFlow(req: IncomingMessage): Promise<Flow | null> {
    return openFlow(deps.kek, parseCookies(req.headers.cookie).get(names().device));
  }

  function retryUrl(userCode: string): string {
    return `${deviceUrl()}?user_code=${encodeURIComponent(formatUserCode(userCode))}`;
  }

  function fail(ctx: Ctx, input: ErrorPageInput, setCookies: string[] = []): void {
    ctx.logger.info('sign-in refused', {
      reason: input.error,
      ...(input.detail ? { detail: input.detail } : {}),
    });
    send(ctx.res, errorPage(input), setCookies);
  }

  /** The page for a code that cannot be used (or null when it can). */
  function unusable(info: DeviceAuthorizationInfo | null): PageError | null {
    if (info === null) return 'unknown_code';
    if (info.status === 'approved' || info.status === 'consumed') return 'code_used';
    if (info.status === 'denied') return 'code_denied';
    if (info.expired) return 'expired_code';
    return null;
  }

  async function formPage(
    ctx: Ctx,
    csrf: { secret: string; setCookie: string | null },
    prefill: { userCode: string | null; typed?: string },
    problem?: { error: PageError; text?: string },
  ): Promise<RenderedPage> {
    const token = await csrfToken(deps.kek, csrf.secret);
    const page = verificationPage({
      action: deviceUrl(),
      csrf: token,
      userCode: prefill.userCode,
      ...(prefill.typed !== undefined ? { typed: prefill.typed } : {}),
      gatewayName: gatewayName(),
      ...(problem
        ? {
            problem: {
              error: problem.error,
              status: PAGE_ERRORS[problem.error].status,
              text: problem.text ?? PAGE_ERRORS[problem.error].text,
            },
          }
        : {}),
    });
    if (problem) ctx.logger.info('sign-in refused', { reason: problem.error });
    return page;
  }

  async function showVerificationPage(ctx: Ctx): Promise<void> {
    if (!rp) return fail(ctx, { error: 'not_configured' });
    const csrf = csrfSecretOf(ctx.req);
    const given = ctx.url.searchParams.get('user_code');
    const code = given === null ? null : normaliseUserCode(given);
    const prefill =
      code !== null
        ? { userCode: formatUserCode(code) }
        : { userCode: null, ...(given ? { typed: given.slice(0, 32) } : {}) };
    send(ctx.res, await formPage(ctx, csrf, prefill), csrf.setCookie ? [csrf.setCookie] : []);
  }

  async function submitVerificationPage(ctx: Ctx): Promise<void> {
    if (!rp || !deps.oidc) return fail(ctx, { error: 'not_configured' });
    const { req } = ctx;
    const sameOrigin = checkSameOrigin(req.headers, new URL(publicUrl()).origin);
    if (!sameOrigin.ok) return fail(ctx, { error: 'cross_site', detail: sameOrigin.why });

    const form = postedForm(ctx);
    const token = form ? single(form, 'csrf') : null;
    const typed = form ? single(form, 'user_code') : null;
    const action = form ? single(form, 'action') : null;
    const csrf = csrfSecretOf(req);
    if (
      !form ||
      token === null ||
      csrf.setCookie !== null ||
      !(await verifyCsrfToken(deps.kek, csrf.secret, token))
    ) {
      return fail(ctx, { error: 'csrf', retryUrl: deviceUrl() }, csrf.setCookie ? [csrf.setCookie] : []);
    }
    if (typed === null || (action !== 'approve' && action !== 'deny')) {
      return fail(ctx, { error: 'bad_request', retryUrl: deviceUrl() });
    }

    const address = clientAddress(req);
    const perAddress = limiters.perAddress.hit(address);
    const failures = limiters.failuresPerAddress.check(address);
    if (!perAddress.allowed || !failures.allowed) {
      const retryAfterS = Math.max(perAddress.retryAfterS, failures.retryAfterS);
      return fail(ctx, { error: 'rate_limited', headers: { 'retry-after': String(retryAfterS) } });
    }
    const code = normaliseUserCode(typed);
    if (code === null) {
      limiters.failuresPerAddress.hit(address);
      return send(
        ctx.res,
        await formPage(ctx, csrf, { userCode: null, typed: typed.slice(0, 32) }, { error: 'invalid_code' }),
      );
    }
    const perCode = limiters.perCode.hit(code);
    if (!perCode.allowed) {
      return fail(ctx, { error: 'rate_limited', headers: { 'retry-after': String(perCode.retryAfterS) } });
    }

    const info = await deps.devices.findByUserCode(code);
    const problem = unusable(info);
    if (problem !== null || info === null) {
      limiters.failuresPerAddress.hit(address);
      if (problem === 'unknown_code' || problem === null) {
        return send(
          ctx.res,
          await formPage(
            ctx,
            csrf,
            { userCode: null, typed: formatUserCode(code) },
            { error: 'unknown_code' },
          ),
        );
      }
      return fail(ctx, { error: problem });
    }

    // One browser per sign-in. The binding secret comes from this browser's CSRF cookie (stable across tabs, a
    // double submit, going back); a flow of this browser for the same code keeps its own (the CSRF cookie may have
    // been renewed since).
    const earlier = await currentFlow(req);
    const browserSecret =
      earlier && earlier.userCode === code ? earlier.browserSecret : browserSecretFor(csrf.secret);
    if (!(await deps.devices.bindBrowser(code, browserSecret))) {
      const again = await deps.devices.findByUserCode(code);
      limiters.failuresPerAddress.hit(address);
      return fail(ctx, { error: unusable(again) ?? 'other_browser' });
    }

    if (action === 'deny') {
      if (!(await deps.devices.deny(code, browserSecret))) {
        return fail(ctx, { error: unusable(await deps.devices.findByUserCode(code)) ?? 'other_browser' });
      }
      ctx.logger.info('device authorization denied in the browser');
      return send(ctx.res, deniedPage(), [clearFlowCookie()]);
    }

    let configuration: oidc.Configuration;
    try {
      configuration = await rp.configuration();
    } catch (err) {
      ctx.logger.warn('identity provider unreachable', { detail: describeOidcError(err) });
      return fail(ctx, { error: 'idp_unavailable', retryUrl: retryUrl(code) });
    }
    const flow: Flow = {
      userCode: code,
      browserSecret,
      codeVerifier: oidc.randomPKCECodeVerifier(),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      expiresAt: Math.min(info.expiresAt, now() + MAX_FLOW_MS),
    };
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
      ...deps.oidc.authorizationParams,
      redirect_uri: redirectUriFor(deps.oidc, publicUrl()),
      response_type: 'code',
      scope: deps.oidc.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    sendRedirect(ctx.res, authorizationUrl.href, [
      flowCookie(await sealFlow(deps.kek, flow), flow.expiresAt),
    ]);
  }

  async function completeIdpSignIn(ctx: Ctx): Promise<void> {
    if (!rp || !deps.oidc) return fail(ctx, { error: 'not_configured' });
    const { req, url } = ctx;
    const flow = await currentFlow(req);
    if (!flow) return fail(ctx, { error: 'no_flow' }, [clearFlowCookie()]);
    if (flow.expiresAt <= now()) return fail(ctx, { error: 'expired_code' }, [clearFlowCookie()]);
    const state = url.searchParams.get('state');
    // A mismatch leaves the cookie alone: it may be a forged callback, and the user's own one may still arrive.
    if (state === null || !equalSecrets(state, flow.state)) return fail(ctx, { error: 'state_mismatch' });

    // From here on this callback spends the flow: the same URL (code and state) cannot be used again.
    const spent = [
      flowCookie(
        await sealFlow(deps.kek, {
          ...flow,
          state: oidc.randomState(),
          nonce: oidc.randomNonce(),
          codeVerifier: oidc.randomPKCECodeVerifier(),
        }),
        flow.expiresAt,
      ),
    ];
    const csrf = csrfSecretOf(req);
    if (csrf.setCookie) spent.push(csrf.setCookie);
    const retry = async (error: PageError, detail?: string, withDeny = false): Promise<void> => {
      const deny = withDeny
        ? {
            deny: {
              action: deviceUrl(),
              csrf: await csrfToken(deps.kek, csrf.secret),
              userCode: formatUserCode(flow.userCode),
            },
          }
        : {};
      fail(ctx, { error, retryUrl: retryUrl(flow.userCode), ...deny, ...(detail ? { detail } : {}) }, spent);
    };

    // Decided (or expired) meanwhile — e.g. approved by this very callback before: say so, exchange nothing.
    const before = unusable(await deps.devices.findByUserCode(flow.userCode));
    if (before !== null) return fail(ctx, { error: before }, [clearFlowCookie()]);

    const idpError = url.searchParams.get('error');
    if (idpError !== null) {
      const description = url.searchParams.get('error_description');
      const detail = `${idpError.slice(0, 64)}${description ? `: ${description.slice(0, 200)}` : ''}`;
      return retry(IDP_DENIALS.has(idpError) ? 'idp_denied' : 'idp_error', detail, true);
    }

    let configuration: oidc.Configuration;
    try {
      configuration = await rp.configuration();
    } catch (err) {
      ctx.logger.warn('identity provider unreachable', { detail: describeOidcError(err) });
      return retry('idp_unavailable');
    }
    const currentUrl = new URL(redirectUriFor(deps.oidc, publicUrl()));
    currentUrl.search = url.search;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const kind = classifyExchangeError(err);
      ctx.logger.warn('code exchange with the identity provider failed', {
        reason: kind,
        detail: describeOidcError(err),
      });
      return retry(kind, describeOidcError(err));
    }

    const claims = tokens.claims();
    if (!claims) return retry('id_token_invalid', 'the token response carried no ID token');
    const mapped = mapClaims(claims, deps.oidc);
    if (!mapped.ok) return fail(ctx, { error: mapped.reason, text: mapped.message }, spent);
    if (mapped.groupsOverage) {
      ctx.logger.warn(
        'group overage at the identity provider: signing in with no groups (groupsOverage: no_groups)',
        {
          subject: mapped.identity.subject,
        },
      );
    }

    const { identity } = mapped;
    const { sessionId } = await deps.sessions.createPendingSession({
      subject: identity.subject,
      email: identity.email,
      name: identity.name,
      groups: identity.groups,
      idpIssuer: claims.iss,
      idpSubject: identity.subject,
      idpRefreshToken: tokens.refresh_token ?? null,
      ttlS: deps.sessionTtlS,
    });
    if (!(await deps.devices.approve(flow.userCode, sessionId, identity.subject, flow.browserSecret))) {
      // Expired, denied or approved while the user was at the IdP (the pending session is never handed out).
      const info = await deps.devices.findByUserCode(flow.userCode);
      return fail(ctx, { error: unusable(info) ?? 'other_browser' }, [clearFlowCookie()]);
    }
    ctx.logger.info('device authorization approved', { subject: identity.subject, session_id: sessionId });
    send(ctx.res, approvedPage(identity, gatewayName()), [clearFlowCookie()]);
  }

  /** Handlers never throw: an unexpected failure is a 500 page, logged. */
  const guard =
    (fn: (ctx: Ctx) => Promise<void>) =>
    async (ctx: RequestContext): Promise<void> => {
      try {
        await fn(ctx);
      } catch (err) {
        ctx.logger.error('sign-in page failed', { err });
        if (!ctx.res.headersSent) send(ctx.res, errorPage({ error: 'internal' }));
        else ctx.res.destroy();
      }
    };

  return {
    showVerificationPage: guard(showVerificationPage),
    submitVerificationPage: guard(submitVerificationPage),
    completeIdpSignIn: guard(completeIdpSignIn),
    limiters,
  };
}

const BAD_ANSWER = new Set([
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
  'OAUTH_PARSE_ERROR',
]);

/**
 * What a failed code exchange means for the user.
 * - `invalid_grant`: the IdP refused a code it issued a moment ago. The gateway exchanges the code as soon as the
 *   browser brings it and never twice (the flow's `state` is spent first), so in practice the account was
 *   disabled or removed in between (oidc-provider's "referenced account not found", which it words as "grant
 *   request is invalid"); the page says so, and that a very slow sign-in can also cause it.
 * - A response that fails validation (signature, `iss`, `aud`, `nonce`, timestamps, an unsupported `alg` such as
 *   `none`): `id_token_invalid`.
 * - A network failure or timeout: `idp_unavailable`.
 */
export function classifyExchangeError(err: unknown): PageError {
  if (err instanceof oidc.ResponseBodyError) {
    if (err.error === 'invalid_grant') return 'user_disabled';
    if (IDP_DENIALS.has(err.error)) return 'idp_denied';
    return 'idp_error';
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError || err instanceof oidc.AuthorizationResponseError) {
    return 'idp_error';
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && BAD_ANSWER.has(code)) return 'id_token_invalid';
  if (typeof code === 'string' && code.startsWith('OAUTH_')) return 'idp_error';
  if (
    err instanceof TypeError ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
  ) {
    return 'idp_unavailable';
  }
  return 'internal';
}
