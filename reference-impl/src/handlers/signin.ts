/**
 * `showVerificationPage` (`GET /device`), `submitVerificationPage` (`POST /device`) and `completeIdpSignIn`
 * (`GET /oauth/callback`): the browser side of the device flow. SESSION-3, SESSION-5 … SESSION-10.
 * The logic lives in `src/signin/` (see its README); this binds it to the gateway's services.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { Handler } from '../http/context.ts';
import type { Logger } from '../log/logger.ts';
import type { DeviceAuthorizations } from '../session/device-codes.ts';
import type { Kek } from '../session/kek.ts';
import type { SessionManager } from '../session/sessions.ts';
import type { Clock } from '../session/util.ts';
import type { OidcConfig } from '../signin/config.ts';
import type { OidcRp, OidcRpOptions } from '../signin/oidc.ts';
import { errorPage, send } from '../signin/pages.ts';
import { createSigninPages, type SigninLimits } from '../signin/verification.ts';

/** Default absolute session lifetime when the config has none (`auth.sessionMaxAgeS`'s default, 90 days). */
const DEFAULT_SESSION_TTL_S = 7_776_000;

export interface SigninServices {
  config: { auth: { issuer?: string; sessionMaxAgeS?: number; oidc?: OidcConfig } };
  /** The session modules; absent (with `auth.oidc` absent) when sign-in is not configured. */
  kek?: Kek;
  sessions?: Pick<SessionManager, 'createPendingSession'>;
  devices?: Pick<DeviceAuthorizations, 'findByUserCode' | 'bindBrowser' | 'approve' | 'deny'>;
  logger: Logger;
}

export interface SigninHandlerOptions {
  /** The gateway's public base URL; default `config.auth.issuer`. A function when known only after listening. */
  publicUrl?: string | (() => string);
  /** The relying party shared with the refresh re-check (`createOidcRp`), so discovery happens once. */
  rp?: OidcRp;
  rpOptions?: OidcRpOptions;
  limits?: Partial<SigninLimits>;
  /** Attempt-limit key per request (default: peer address, IPv6 by /64); override behind a reverse proxy. */
  clientAddress?: (req: IncomingMessage) => string;
  now?: Clock;
}

/**
 * Without `auth.oidc` (or without the session modules) the three pages answer `503` "sign-in is not available".
 *
 * @example
 * const rp = config.auth.oidc ? createOidcRp(config.auth.oidc) : undefined;
 * createRouter(operations, { ...signinHandlers({ ...services, ...services.signIn }, { rp, publicUrl }), … });
 */
export function signinHandlers(
  services: SigninServices,
  options: SigninHandlerOptions = {},
): Record<'showVerificationPage' | 'submitVerificationPage' | 'completeIdpSignIn', Handler> {
  const { auth } = services.config;
  const { kek, sessions, devices } = services;
  if (!auth.oidc || !kek || !sessions || !devices) {
    // Sign-in is not configured: the three pages say so (503), in HTML, instead of the route being absent.
    const notConfigured: Handler = async (ctx) => send(ctx.res, errorPage({ error: 'not_configured' }));
    return {
      showVerificationPage: notConfigured,
      submitVerificationPage: notConfigured,
      completeIdpSignIn: notConfigured,
    };
  }
  const publicUrl = options.publicUrl ?? auth.issuer;
  if (publicUrl === undefined) {
    throw new GatewayError('ERR_CONFIG_INVALID', "sign-in needs auth.issuer (the gateway's public base URL)");
  }
  const pages = createSigninPages({
    oidc: auth.oidc,
    publicUrl,
    sessionTtlS: auth.sessionMaxAgeS ?? DEFAULT_SESSION_TTL_S,
    kek,
    sessions,
    devices,
    logger: services.logger,
    ...(options.rp ? { rp: options.rp } : {}),
    ...(options.rpOptions ? { rpOptions: options.rpOptions } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.clientAddress ? { clientAddress: options.clientAddress } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    showVerificationPage: pages.showVerificationPage,
    submitVerificationPage: pages.submitVerificationPage,
    completeIdpSignIn: pages.completeIdpSignIn,
  };
}
