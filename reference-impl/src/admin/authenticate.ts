/**
 * Who may call the admin API (ADMIN-1, ADMIN-2, ADMIN-3): an admin API key, or the gateway access token of a user
 * whose groups include a configured admin group (`auth.adminGroups`).
 *
 * - A credential starting `ocg_admin_` is an admin API key (from `x-api-key`, or `Authorization: Bearer`): looked up
 *   by its SHA-256; unknown or revoked → `401 authentication_error`.
 * - Anything else must be a gateway access token, verified by `session/access-token.ts` (only ES256 keys of the
 *   gateway's ring, exact `iss`/`aud`/`typ`, not expired, session not revoked) → else `401`. The groups are read
 *   from that verified token only, so a claim the gateway did not sign — an IdP ID token, an unsigned or re-signed
 *   JWT, a development static token — never grants a role.
 * - A verified user in no admin group, or a development static token → `403 permission_error`.
 * - `write` groups and `write` keys get `read` too; {@link requireAdminScope} refuses a missing scope with `403`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { AdminIdentity } from '../http/context.ts';
import type { AdminAuthenticator } from '../http/server.ts';
import { type VerifyOptions, verifyAccessToken } from '../session/access-token.ts';
import type { KeyRing } from '../session/keys.ts';
import type { Principal } from '../session/principal.ts';
import type { RevocationCheck } from '../session/revocation.ts';
import type { Clock } from '../session/util.ts';
import type { Queryable } from '../store/store.ts';
import { type AdminScope, createAdminApiKeys, looksLikeAdminKey } from './api-keys.ts';

export type { AdminIdentity } from '../http/context.ts';

/** Config `auth.adminGroups`: IdP groups (after claim mapping) whose members are admins. */
export interface AdminGroupsConfig {
  /** Members may call every admin operation. */
  write?: readonly string[];
  /** Members may call the read operations (`x-ocg-admin-scope: read`). */
  read?: readonly string[];
}

export interface AdminAuthDeps {
  /** The database holding `admin_api_keys`. */
  store: Queryable;
  /** The signing keys; null when sign-in is not configured (then only admin API keys authenticate). */
  keyring: KeyRing | null;
  revocation: RevocationCheck | null;
  /**
   * The same `issuer`, `audience` and `clockToleranceS` the bearer endpoints verify with. Read on every request, so
   * getters work (e.g. an issuer only known once the server listens).
   */
  accessToken: VerifyOptions;
  adminGroups: AdminGroupsConfig;
  /**
   * The development static tokens (`auth.staticTokens`), so that they get `403` (valid, but no admin role) instead
   * of `401`. They never grant a role either way: their groups come from the config, not from a token the gateway
   * signed.
   */
  staticTokens?: readonly { token: string }[];
  /** Alternative to `staticTokens`: a predicate recognising them (prefer `staticTokens`: compared in constant time). */
  isNonAdminCredential?: (credential: string) => boolean;
  now?: Clock;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="ocg"' };
const INVALID = { 'www-authenticate': 'Bearer realm="ocg", error="invalid_token"' };

/** The credentials a request presents: `Authorization: Bearer …` then `x-api-key`. */
function presented(headers: IncomingHttpHeaders): string[] {
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

/** Constant-time membership test (SHA-256 digests, every entry compared, no early exit). */
function isStaticToken(credential: string, tokens: readonly { token: string }[]): boolean {
  const d = createHash('sha256').update(credential, 'utf8').digest();
  let found = false;
  for (const t of tokens) {
    if (timingSafeEqual(d, createHash('sha256').update(t.token, 'utf8').digest())) found = true;
  }
  return found;
}

function scopesOf(groups: readonly string[], config: AdminGroupsConfig): AdminScope[] {
  const has = (list: readonly string[] | undefined) => (list ?? []).some((g) => groups.includes(g));
  if (has(config.write)) return ['read', 'write'];
  if (has(config.read)) return ['read'];
  return [];
}

/**
 * Authenticates an admin request.
 *
 * @throws GatewayError `ERR_UNAUTHENTICATED` (401: no credential, two different credentials, unknown or revoked
 *   key, invalid access token), `ERR_FORBIDDEN` (403: a valid credential without an admin role).
 * @example
 * ctx.admin = await authenticateAdmin(req.headers, { store, keyring, revocation, accessToken: { issuer, audience }, adminGroups });
 * requireAdminScope(ctx.admin, operation.adminScope ?? 'write');
 */
export async function authenticateAdmin(
  headers: IncomingHttpHeaders,
  deps: AdminAuthDeps,
): Promise<AdminIdentity> {
  return (await authenticateAdminRequest(headers, deps)).admin;
}

/**
 * {@link authenticateAdmin}, also returning the verified principal of a user's access token (null for an API key),
 * which the pipeline puts in `ctx.principal`.
 */
export async function authenticateAdminRequest(
  headers: IncomingHttpHeaders,
  deps: AdminAuthDeps,
): Promise<{ admin: AdminIdentity; principal: Principal | null }> {
  const credentials = presented(headers);
  if (credentials.length === 0) {
    throw new GatewayError(
      'ERR_UNAUTHENTICATED',
      'Missing credentials: send an admin API key in x-api-key, or Authorization: Bearer <access token> of an admin.',
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
  const credential = credentials[0] as string;

  if (looksLikeAdminKey(credential)) {
    const key = await createAdminApiKeys(deps.store, deps.now ? { now: deps.now } : {}).authenticate(
      credential,
    );
    if (key === null) {
      throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid admin API key (unknown or revoked).', {
        headers: INVALID,
      });
    }
    const scopes: AdminScope[] = key.scope === 'write' ? ['read', 'write'] : ['read'];
    return { admin: { kind: 'api_key', keyId: key.id, scopes }, principal: null };
  }

  if (
    isStaticToken(credential, deps.staticTokens ?? []) ||
    deps.isNonAdminCredential?.(credential) === true
  ) {
    throw new GatewayError(
      'ERR_FORBIDDEN',
      'Development static tokens carry no admin role: use an admin API key or sign in as an admin.',
    );
  }
  if (deps.keyring === null || deps.revocation === null) {
    throw new GatewayError(
      'ERR_UNAUTHENTICATED',
      'Invalid credential: sign-in is not configured, so only admin API keys (x-api-key: ocg_admin_…) are accepted.',
      { headers: INVALID },
    );
  }
  const principal = await verifyAccessToken(deps.keyring, deps.revocation, credential, {
    ...deps.accessToken,
    ...(deps.now && !deps.accessToken.now ? { now: deps.now } : {}),
  });
  const scopes = scopesOf(principal.groups, deps.adminGroups);
  if (scopes.length === 0) {
    throw new GatewayError('ERR_FORBIDDEN', 'You are not an admin: none of your groups has an admin role.');
  }
  return { admin: { kind: 'user', subject: principal.subject, email: principal.email, scopes }, principal };
}

/**
 * The pipeline's admin check (`AdminAuthenticator` in http/server.ts) for operations whose security is the admin
 * scheme: authenticates, then requires the operation's `x-ocg-admin-scope`.
 *
 * @example
 * createPipeline({ …, authenticateAdmin: createAdminAuthenticator({ store, keyring, revocation, accessToken, adminGroups }) });
 */
export function createAdminAuthenticator(deps: AdminAuthDeps): AdminAuthenticator {
  return async (headers, scope) => {
    const result = await authenticateAdminRequest(headers, deps);
    requireAdminScope(result.admin, scope);
    return result;
  };
}

/**
 * Refuses an identity without `scope`.
 *
 * @throws GatewayError `ERR_FORBIDDEN` (403 permission_error), e.g. a read key on a write operation.
 */
export function requireAdminScope(identity: AdminIdentity, scope: AdminScope): void {
  if (!identity.scopes.includes(scope)) {
    const what = identity.kind === 'api_key' ? 'this admin API key' : 'your admin role';
    throw new GatewayError(
      'ERR_FORBIDDEN',
      `This operation needs the ${scope} admin scope; ${what} has only ${identity.scopes.join(', ') || 'none'}.`,
    );
  }
}

/** How the admin API records who did something (`created_by`, revocation reasons, logs). */
export function adminActor(identity: AdminIdentity): string {
  return identity.kind === 'api_key' ? `api_key:${identity.keyId ?? '?'}` : `user:${identity.subject ?? '?'}`;
}
