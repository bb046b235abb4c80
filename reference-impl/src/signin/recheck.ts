/**
 * The IdP re-check behind every refresh of a gateway session (SESSION-15): offboarding is removing the person at
 * the IdP, so a refresh asks the IdP again instead of trusting what it said at sign-in.
 *
 * `recheck(session)`:
 * 1. Uses the session's IdP refresh token (decrypted by the session manager) in a `refresh_token` grant. An IdP
 *    refusal (`invalid_grant`: user disabled or removed, grant revoked, token expired) is `ok: false`.
 * 2. Reads the user from the refreshed ID token — validated by openid-client, signature included — or, when the
 *    IdP sends none on refresh, from userinfo with the new access token. The subject must be the session's.
 * 3. Applies the same claim rules as sign-in (`claims.ts`): a user who left the allowed domain, lost a verified
 *    email or hit a group overage under `deny` is refused too; new groups show up in the next access token.
 * 4. Stores the rotated IdP refresh token (if the IdP rotated it) and the fresh identity with
 *    `sessions.updateSessionIdentity` before answering — also when the claim rules refuse, because the old IdP
 *    token is dead once the IdP rotated it.
 *
 * A session without an IdP refresh token cannot be re-checked and is refused (fail closed): configure the IdP to
 * issue refresh tokens (`offline_access`, or Google's `access_type=offline` in `authorizationParams`).
 * An IdP that cannot be reached is not a refusal: `recheck` throws `ERR_UPSTREAM_UNREACHABLE` (502), so the client
 * retries later and the session survives an IdP outage.
 */
import * as oidc from 'openid-client';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { SessionManager, SessionRecord } from '../session/sessions.ts';
import { type Identity, mapClaims } from './claims.ts';
import type { OidcConfig } from './config.ts';
import { createOidcRp, describeOidcError, type OidcRp, type OidcRpOptions } from './oidc.ts';

export type RecheckResult = { ok: true; identity: Identity } | { ok: false; reason: string };

export interface IdpRecheck {
  /**
   * Asks the IdP whether the session's user may still sign in, and who they are now.
   * @throws GatewayError `ERR_UPSTREAM_UNREACHABLE` when the IdP cannot be reached or answers 5xx.
   */
  recheck(session: SessionRecord): Promise<RecheckResult>;
}

export interface IdpRecheckDeps {
  /** `auth.oidc` with defaults; absent: every re-check is refused (no IdP to ask). */
  oidc: OidcConfig | undefined;
  sessions: Pick<SessionManager, 'getIdpRefreshToken' | 'updateSessionIdentity'>;
  logger: Logger;
  /** Share the sign-in pages' relying party (one discovery); built from `oidc` when absent. */
  rp?: OidcRp;
  rpOptions?: OidcRpOptions;
}

function unreachable(err: unknown): GatewayError {
  return new GatewayError(
    'ERR_UPSTREAM_UNREACHABLE',
    'The identity provider cannot be reached to confirm the session; try again later.',
    { cause: err },
  );
}

const REFUSALS = new Set(['invalid_grant', 'access_denied', 'invalid_token']);
/** Answers that failed validation (signature, `iss`, `aud`, `sub`, timestamps, `alg`): never trusted. */
const UNTRUSTED = new Set([
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
]);

/**
 * Whether an IdP failure is the IdP refusing this user or token — `invalid_grant` (disabled, removed, revoked,
 * expired), `access_denied`, userinfo's `invalid_token`, or an answer that fails validation — as opposed to the IdP
 * being unwell or the gateway misconfigured (`invalid_client`, 5xx, network), which must not end sessions.
 */
function isRefusal(err: unknown): boolean {
  if (err instanceof oidc.ResponseBodyError) return REFUSALS.has(err.error);
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    return err.cause.some((c) => REFUSALS.has(String(c.parameters.error)));
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNTRUSTED.has(code);
}

/**
 * @example
 * const idp = createIdpRecheck({ oidc: config.auth.oidc, sessions, logger });
 * const result = await idp.recheck(session);
 * if (!result.ok) { await revocation.revokeSession(session.id, 'idp_user_disabled'); … 401 invalid_grant }
 */
export function createIdpRecheck(deps: IdpRecheckDeps): IdpRecheck {
  const rp = deps.oidc ? (deps.rp ?? createOidcRp(deps.oidc, deps.rpOptions)) : undefined;

  return {
    async recheck(session) {
      const log = deps.logger.child({ session_id: session.id, subject: session.subject });
      if (!rp || !deps.oidc)
        return { ok: false, reason: 'sign-in through an identity provider is not configured' };
      if (session.idpIssuer !== rp.issuer) {
        return { ok: false, reason: 'the session was signed in at another identity provider' };
      }
      const idpRefreshToken = await deps.sessions.getIdpRefreshToken(session.id);
      if (idpRefreshToken === null) {
        return { ok: false, reason: 'the session has no identity provider refresh token to re-check with' };
      }
      let configuration: oidc.Configuration;
      try {
        configuration = await rp.configuration();
      } catch (err) {
        throw unreachable(err);
      }

      let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
      try {
        tokens = await oidc.refreshTokenGrant(configuration, idpRefreshToken);
      } catch (err) {
        if (!isRefusal(err)) {
          log.warn('identity provider unreachable on refresh', { detail: describeOidcError(err) });
          throw unreachable(err);
        }
        log.info('identity provider refused the refresh', { detail: describeOidcError(err) });
        return { ok: false, reason: `the identity provider refused the session: ${describeOidcError(err)}` };
      }
      const rotated =
        tokens.refresh_token && tokens.refresh_token !== idpRefreshToken ? tokens.refresh_token : null;
      const keepIdentity = { email: session.email, name: session.name, groups: session.groups };

      let claims: Record<string, unknown> | undefined = tokens.claims();
      try {
        if (claims) {
          if (claims.sub !== session.idpSubject) {
            await deps.sessions.updateSessionIdentity(session.id, keepIdentity, rotated);
            return { ok: false, reason: 'the identity provider answered for another subject' };
          }
        } else {
          claims = await oidc.fetchUserInfo(configuration, tokens.access_token, session.idpSubject);
        }
      } catch (err) {
        await deps.sessions.updateSessionIdentity(session.id, keepIdentity, rotated);
        if (!isRefusal(err)) throw unreachable(err);
        return { ok: false, reason: `the identity provider refused the user: ${describeOidcError(err)}` };
      }

      const mapped = mapClaims(claims, deps.oidc);
      if (!mapped.ok) {
        await deps.sessions.updateSessionIdentity(session.id, keepIdentity, rotated);
        return { ok: false, reason: mapped.message };
      }
      if (mapped.groupsOverage) {
        log.warn(
          'group overage at the identity provider: refreshing with no groups (groupsOverage: no_groups)',
        );
      }
      const { identity } = mapped;
      const stored = await deps.sessions.updateSessionIdentity(
        session.id,
        { email: identity.email, name: identity.name, groups: identity.groups },
        rotated,
      );
      if (!stored) return { ok: false, reason: 'the session was revoked' };
      return { ok: true, identity: { ...identity, subject: session.subject } };
    },
  };
}
