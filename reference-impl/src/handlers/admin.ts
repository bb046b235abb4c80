/**
 * The admin API (OCG extension, feature `admin`): `getAdminIdentity`, `listSessions`, `revokeSession`,
 * `revokeUserSessions`, `listAdminApiKeys`, `createAdminApiKey`, `deleteAdminApiKey`. Serves ADMIN-1…4.
 *
 * Every handler checks the caller itself: it uses `ctx.admin` when the pipeline authenticated the request
 * (`admin/authenticate.ts`), authenticates it otherwise, and refuses a credential without the operation's scope
 * (`x-ocg-admin-scope` in the spec) with `403 permission_error`. Checking twice costs nothing and keeps an admin
 * operation closed even if it were ever mounted without the admin scheme.
 *
 * Revocations go through `session/revocation.ts`: the revoking replica stops the session's access tokens at once,
 * the others within their 2 s cache lifetime, and the session's refresh token gets `invalid_grant` at once.
 */
import type { ServerResponse } from 'node:http';
import { adminApiKeyView, checkNewKey, createAdminApiKeys } from '../admin/api-keys.ts';
import {
  type AdminAuthDeps,
  adminActor,
  authenticateAdmin,
  requireAdminScope,
} from '../admin/authenticate.ts';
import { pageRequest } from '../admin/paging.ts';
import { getSessionView, listSessionViews } from '../admin/sessions.ts';
import { GatewayError } from '../errors.ts';
import type { AdminIdentity, Handler, RequestContext } from '../http/context.ts';
import { createRevocation, type Revocation } from '../session/revocation.ts';
import type { Clock } from '../session/util.ts';
import type { Store } from '../store/store.ts';

export type AdminOperationId =
  | 'getAdminIdentity'
  | 'listSessions'
  | 'revokeSession'
  | 'revokeUserSessions'
  | 'listAdminApiKeys'
  | 'createAdminApiKey'
  | 'deleteAdminApiKey';

/** The scope each operation needs; the same as the spec's `x-ocg-admin-scope`. */
export const ADMIN_OPERATION_SCOPES: Readonly<Record<AdminOperationId, 'read' | 'write'>> = {
  getAdminIdentity: 'read',
  listSessions: 'read',
  revokeSession: 'write',
  revokeUserSessions: 'write',
  listAdminApiKeys: 'read',
  createAdminApiKey: 'write',
  deleteAdminApiKey: 'write',
};

/** `revoked_reason` of sessions revoked through the admin API. */
export const ADMIN_REVOKED = 'admin_revoked';

export interface AdminHandlerDeps {
  store: Store;
  /** The replica's revocation cache (`signIn.revocation`); null without sign-in (then one is made on the store). */
  revocation: Revocation | null;
  /** How to authenticate a request the pipeline did not (the same deps the pipeline's admin check uses). */
  auth: AdminAuthDeps;
  now?: Clock;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    // Admin answers (and the one-time key secret) must never sit in a cache.
    'cache-control': 'no-store',
  });
  res.end(body);
}

function singleQuery(ctx: RequestContext, name: string): string | null {
  const values = ctx.url.searchParams.getAll(name);
  if (values.length > 1) throw new GatewayError('ERR_INVALID_REQUEST', `${name} may be given only once`);
  return values[0] ?? null;
}

function pathParam(ctx: RequestContext, name: string): string {
  const value = ctx.params[name];
  if (value === undefined || value === '') {
    throw new GatewayError('ERR_NOT_FOUND', `No route for ${ctx.req.method} ${ctx.url.pathname}.`);
  }
  return value;
}

export function adminHandlers(deps: AdminHandlerDeps): Record<AdminOperationId, Handler> {
  const apiKeys = createAdminApiKeys(deps.store, deps.now ? { now: deps.now } : {});
  const revocation = deps.revocation ?? createRevocation(deps.store);

  async function admit(ctx: RequestContext, operation: AdminOperationId): Promise<AdminIdentity> {
    const identity = ctx.admin ?? (await authenticateAdmin(ctx.req.headers, deps.auth));
    ctx.admin = identity;
    requireAdminScope(identity, ADMIN_OPERATION_SCOPES[operation]);
    return identity;
  }

  return {
    async getAdminIdentity(ctx) {
      const identity = await admit(ctx, 'getAdminIdentity');
      sendJson(ctx.res, 200, {
        type: 'admin_identity',
        kind: identity.kind,
        ...(identity.subject !== undefined ? { subject: identity.subject } : {}),
        ...(identity.email !== undefined ? { email: identity.email } : {}),
        ...(identity.keyId !== undefined ? { key_id: identity.keyId } : {}),
        scopes: [...identity.scopes],
      });
    },

    async listSessions(ctx) {
      await admit(ctx, 'listSessions');
      const userId = singleQuery(ctx, 'user_id');
      sendJson(ctx.res, 200, await listSessionViews(deps.store, userId, pageRequest(ctx.url.searchParams)));
    },

    async revokeSession(ctx) {
      const identity = await admit(ctx, 'revokeSession');
      const sessionId = pathParam(ctx, 'session_id');
      if ((await getSessionView(deps.store, sessionId)) === null) {
        throw new GatewayError('ERR_NOT_FOUND', 'No session with this id.');
      }
      const changed = await revocation.revokeSession(sessionId, ADMIN_REVOKED);
      ctx.logger.info('admin revoked a session', {
        session_id: sessionId,
        by: adminActor(identity),
        changed,
      });
      sendJson(ctx.res, 200, await getSessionView(deps.store, sessionId));
    },

    async revokeUserSessions(ctx) {
      const identity = await admit(ctx, 'revokeUserSessions');
      const userId = pathParam(ctx, 'user_id');
      const n = await revocation.revokeUserSessions(userId, ADMIN_REVOKED);
      ctx.logger.info('admin revoked a user’s sessions', {
        user_id: userId,
        sessions_revoked: n,
        by: adminActor(identity),
      });
      sendJson(ctx.res, 200, { type: 'revocation', user_id: userId, sessions_revoked: n });
    },

    async listAdminApiKeys(ctx) {
      await admit(ctx, 'listAdminApiKeys');
      const page = await apiKeys.list(pageRequest(ctx.url.searchParams));
      sendJson(ctx.res, 200, { ...page, data: page.data.map(adminApiKeyView) });
    },

    async createAdminApiKey(ctx) {
      const identity = await admit(ctx, 'createAdminApiKey');
      const json = ctx.body?.json as { name?: unknown; scope?: unknown } | null | undefined;
      const input = json !== null && typeof json === 'object' ? json : {};
      const { name, scope } = checkNewKey(input.name, input.scope);
      const { record, key } = await apiKeys.create({ name, scope, createdBy: adminActor(identity) });
      ctx.logger.info('admin API key created', { key_id: record.id, scope, by: adminActor(identity) });
      sendJson(ctx.res, 201, { ...adminApiKeyView(record), key });
    },

    async deleteAdminApiKey(ctx) {
      const identity = await admit(ctx, 'deleteAdminApiKey');
      const keyId = pathParam(ctx, 'key_id');
      const record = await apiKeys.revoke(keyId);
      if (record === null) throw new GatewayError('ERR_NOT_FOUND', 'No admin API key with this id.');
      ctx.logger.info('admin API key revoked', { key_id: keyId, by: adminActor(identity) });
      sendJson(ctx.res, 200, adminApiKeyView(record));
    },
  };
}
