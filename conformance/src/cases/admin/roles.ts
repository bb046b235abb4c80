/**
 * ADMIN-1 — admin operations need an admin credential: no credential (or an unknown admin key) is
 * `401 authentication_error`; a signed-in user outside the admin groups is `403 permission_error` on read and write
 * operations; a user of the read admin group may read (`/v1/admin/me`, sessions, keys) and is `403` on every write
 * operation; a user of the write admin group has both scopes.
 */
import { expectThat } from '../../errors.ts';
import type { CaseContext } from '../../runner/types.ts';
import { defineCase } from '../../runner/types.ts';
import { type AdminCredential, admin, expectAdmin, signedIn } from '../policy/support.ts';

/** The admin operations, each with a request that is valid apart from the credential. */
function operations(ctx: CaseContext, subject: string) {
  const nobody = encodeURIComponent(`conformance-nobody-${ctx.rng.hex(6)}`);
  return {
    read: [
      ['getAdminIdentity', 'GET', '/v1/admin/me'],
      ['listSessions', 'GET', `/v1/admin/sessions?user_id=${encodeURIComponent(subject)}`],
      ['listAdminApiKeys', 'GET', '/v1/admin/api_keys'],
    ] as Array<[string, 'GET', string]>,
    write: [
      [
        'createAdminApiKey',
        'POST',
        '/v1/admin/api_keys',
        { name: `conformance ${ctx.rng.hex(4)}`, scope: 'read' },
      ],
      ['revokeUserSessions', 'POST', `/v1/admin/users/${nobody}/revoke_sessions`, undefined],
      ['revokeSession', 'POST', `/v1/admin/sessions/${nobody}/revoke`, undefined],
      ['deleteAdminApiKey', 'DELETE', `/v1/admin/api_keys/${nobody}`, undefined],
    ] as Array<[string, 'POST' | 'DELETE', string, unknown]>,
  };
}

export default defineCase({
  id: 'admin/roles',
  title: 'Admin operations: 401 without a credential, 403 without the role, read admins only read',
  feature: 'admin',
  requirements: ['ADMIN-1'],
  timeoutMs: 40_000,
  async run(ctx) {
    const { groups } = ctx.policy;
    const { user: developer, tokens: dev } = await signedIn(ctx, [groups.developers]);
    const ops = operations(ctx, developer.subject);

    const refused: Array<[string, AdminCredential, number, string]> = [
      ['no credential', null, 401, 'authentication_error'],
      [
        'an unknown admin API key',
        { apiKey: `ocg_admin_${ctx.rng.string(40)}` },
        401,
        'authentication_error',
      ],
      ['a developers user (no admin group)', { bearer: dev.accessToken }, 403, 'permission_error'],
    ];
    for (const [who, credential, status, type] of refused) {
      for (const [operationId, method, path, body] of [
        ...ops.read.map((o) => [...o, undefined] as const),
        ...ops.write,
      ]) {
        const answer = await admin(ctx, credential, operationId, method, path, body);
        expectAdmin(answer, status, type, `${who}: ${method} ${path.split('?')[0]}`);
        if (status === 401) {
          expectThat(
            /^Bearer\b/i.test(answer.headers['www-authenticate'] ?? ''),
            `${who}: the 401 on ${method} ${path} has no WWW-Authenticate: Bearer challenge`,
          );
        }
      }
    }

    const { user: reader, tokens: read } = await signedIn(ctx, [groups.adminRead]);
    const me = await admin(ctx, { bearer: read.accessToken }, 'getAdminIdentity', 'GET', '/v1/admin/me');
    expectAdmin(me, 200, null, 'a read admin: GET /v1/admin/me');
    const identity = me.json as { kind?: unknown; subject?: unknown; scopes?: unknown[] };
    expectThat(
      identity.kind === 'user',
      `a read admin: /v1/admin/me kind is ${JSON.stringify(identity.kind)}`,
    );
    expectThat(
      identity.subject === undefined || identity.subject === reader.subject,
      `a read admin: /v1/admin/me subject ${JSON.stringify(identity.subject)} is not the user's IdP subject`,
    );
    expectThat(
      Array.isArray(identity.scopes) &&
        identity.scopes.includes('read') &&
        !identity.scopes.includes('write'),
      `a read admin: scopes ${JSON.stringify(identity.scopes)}, expected read without write`,
    );
    for (const [operationId, method, path] of ops.read) {
      expectAdmin(
        await admin(ctx, { bearer: read.accessToken }, operationId, method, path),
        200,
        null,
        `a read admin: ${method} ${path}`,
      );
    }
    for (const [operationId, method, path, body] of ops.write) {
      const answer = await admin(ctx, { bearer: read.accessToken }, operationId, method, path, body);
      expectAdmin(answer, 403, 'permission_error', `a read admin: ${method} ${path}`);
    }

    const { tokens: write } = await signedIn(ctx, [groups.adminWrite]);
    const writer = await admin(ctx, { bearer: write.accessToken }, 'getAdminIdentity', 'GET', '/v1/admin/me');
    expectAdmin(writer, 200, null, 'a write admin: GET /v1/admin/me');
    const scopes = (writer.json as { scopes?: unknown[] }).scopes ?? [];
    expectThat(
      scopes.includes('read') && scopes.includes('write'),
      `a write admin: scopes ${JSON.stringify(scopes)}, expected read and write`,
    );
  },
});
