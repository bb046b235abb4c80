/**
 * ADMIN-2 — admin API keys: a write admin creates a `read` and a `write` key (`201`, the secret in `key`, in that
 * answer only: never in the list nor in any later answer); a key works in `x-api-key` (`/v1/admin/me` names it);
 * a read key may read and is `403 permission_error` on write operations; a write key may write; a deleted key is
 * refused (`401`) on its very next request. (That keys are stored only as hashes cannot be seen over HTTP.)
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { admin, expectAdmin, signedIn } from '../policy/support.ts';

interface CreatedKey {
  id: string;
  name: string;
  scope: string;
  key: string;
}

export default defineCase({
  id: 'admin/api-keys',
  title: 'Admin API keys: shown once, scoped read or write, dead at once when deleted',
  feature: 'admin',
  requirements: ['ADMIN-2'],
  timeoutMs: 40_000,
  async run(ctx) {
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.adminWrite]);
    const owner = { bearer: tokens.accessToken };
    const keys: Record<'read' | 'write', CreatedKey> = {} as Record<'read' | 'write', CreatedKey>;
    for (const scope of ['read', 'write'] as const) {
      const name = `conformance ${scope} ${ctx.rng.hex(4)}`;
      const created = await admin(ctx, owner, 'createAdminApiKey', 'POST', '/v1/admin/api_keys', {
        name,
        scope,
      });
      expectAdmin(created, 201, null, `creating a ${scope} key`);
      const key = created.json as CreatedKey;
      expectThat(
        typeof key.key === 'string' && key.key.length >= 20 && key.scope === scope && key.name === name,
        `creating a ${scope} key: the answer lacks the secret (at least 20 characters), the scope or the name`,
      );
      keys[scope] = key;
    }
    expectThat(
      keys.read.key !== keys.write.key && keys.read.id !== keys.write.id,
      'two keys share a secret or an id',
    );

    const list = await admin(ctx, owner, 'listAdminApiKeys', 'GET', '/v1/admin/api_keys?limit=1000');
    expectAdmin(list, 200, null, 'listing the keys');
    for (const scope of ['read', 'write'] as const) {
      expectThat(!list.text.includes(keys[scope].key), `the key list shows the ${scope} key's secret`);
      const entry = (list.json as { data: Array<Record<string, unknown>> }).data.find(
        (k) => k.id === keys[scope].id,
      );
      expectThat(entry, `the key list does not list the new ${scope} key ${keys[scope].id}`);
      expectThat(!('key' in entry), `the key list carries a "key" field for ${keys[scope].id}`);
    }

    for (const scope of ['read', 'write'] as const) {
      const credential = { apiKey: keys[scope].key };
      const me = await admin(ctx, credential, 'getAdminIdentity', 'GET', '/v1/admin/me');
      expectAdmin(me, 200, null, `the ${scope} key in x-api-key: GET /v1/admin/me`);
      const identity = me.json as { kind?: unknown; key_id?: unknown; scopes?: unknown[] };
      expectThat(
        identity.kind === 'api_key' && (identity.key_id === undefined || identity.key_id === keys[scope].id),
        `the ${scope} key: /v1/admin/me says kind ${JSON.stringify(identity.kind)}, key_id ${JSON.stringify(identity.key_id)}`,
      );
      expectThat(!me.text.includes(keys[scope].key), `GET /v1/admin/me echoes the ${scope} key's secret`);
      const sessions = await admin(ctx, credential, 'listSessions', 'GET', '/v1/admin/sessions');
      expectAdmin(sessions, 200, null, `the ${scope} key: GET /v1/admin/sessions`);
    }

    const reader = { apiKey: keys.read.key };
    expectAdmin(
      await admin(ctx, reader, 'createAdminApiKey', 'POST', '/v1/admin/api_keys', {
        name: 'nope',
        scope: 'read',
      }),
      403,
      'permission_error',
      'the read key creating a key',
    );
    expectAdmin(
      await admin(ctx, reader, 'deleteAdminApiKey', 'DELETE', `/v1/admin/api_keys/${keys.write.id}`),
      403,
      'permission_error',
      'the read key deleting the write key',
    );
    expectAdmin(
      await admin(
        ctx,
        reader,
        'revokeUserSessions',
        'POST',
        `/v1/admin/users/nobody-${ctx.rng.hex(4)}/revoke_sessions`,
      ),
      403,
      'permission_error',
      "the read key revoking a user's sessions",
    );

    // The write key deletes the read key, which is refused on its very next request; then the owner deletes the write key.
    const writer = { apiKey: keys.write.key };
    const deleted = await admin(
      ctx,
      writer,
      'deleteAdminApiKey',
      'DELETE',
      `/v1/admin/api_keys/${keys.read.id}`,
    );
    expectAdmin(deleted, 200, null, 'the write key deleting the read key');
    expectThat(!deleted.text.includes(keys.read.key), "the delete answer shows the deleted key's secret");
    expectAdmin(
      await admin(ctx, reader, 'getAdminIdentity', 'GET', '/v1/admin/me'),
      401,
      'authentication_error',
      'the deleted read key, right after deletion',
    );
    expectAdmin(
      await admin(ctx, owner, 'deleteAdminApiKey', 'DELETE', `/v1/admin/api_keys/${keys.write.id}`),
      200,
      null,
      'the write admin deleting the write key',
    );
    expectAdmin(
      await admin(ctx, writer, 'listSessions', 'GET', '/v1/admin/sessions'),
      401,
      'authentication_error',
      'the deleted write key, right after deletion',
    );
  },
});
