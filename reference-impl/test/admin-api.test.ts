/**
 * The admin API (ADMIN-1…3): who gets 401, who gets 403, and which scope each operation needs, for every kind of
 * credential (none, garbage, forged and altered tokens, development static tokens, users in and out of the admin
 * groups, read and write admin API keys, revoked keys); admin API keys hashed at rest and shown once; the session
 * list. Real router, pipeline and session modules on PGlite (test/admin-harness.ts).
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminApiKeys } from '../src/admin/api-keys.ts';
import { ADMIN_REVOKED } from '../src/handlers/admin.ts';
import { issueAccessToken } from '../src/session/access-token.ts';
import { sha256Hex } from '../src/session/util.ts';
import { ACCESS_TTL_S, type Harness, startHarness } from './admin-harness.ts';
import { send, TOKEN } from './helpers.ts';

const ADMIN_GROUPS = { write: ['gateway-admins'], read: ['gateway-auditors'] };
const KEY_SHAPE = /^ocg_admin_[A-Za-z0-9_-]{43}$/;

type Credential = Record<string, string>;
const bearer = (token: string): Credential => ({ authorization: `Bearer ${token}` });
const apiKey = (key: string): Credential => ({ 'x-api-key': key });

/** One request per admin operation; `ok` is what an authorised caller gets. */
const OPERATIONS: Array<{
  id: string;
  scope: 'read' | 'write';
  method: string;
  path: string;
  body?: string;
  ok: number;
}> = [
  { id: 'getAdminIdentity', scope: 'read', method: 'GET', path: '/v1/admin/me', ok: 200 },
  { id: 'listSessions', scope: 'read', method: 'GET', path: '/v1/admin/sessions', ok: 200 },
  { id: 'listAdminApiKeys', scope: 'read', method: 'GET', path: '/v1/admin/api_keys', ok: 200 },
  {
    id: 'revokeSession',
    scope: 'write',
    method: 'POST',
    path: '/v1/admin/sessions/no-such-session/revoke',
    ok: 404,
  },
  {
    id: 'revokeUserSessions',
    scope: 'write',
    method: 'POST',
    path: '/v1/admin/users/no-such-user/revoke_sessions',
    ok: 200,
  },
  {
    id: 'createAdminApiKey',
    scope: 'write',
    method: 'POST',
    path: '/v1/admin/api_keys',
    body: JSON.stringify({ name: 'matrix', scope: 'read' }),
    ok: 201,
  },
  {
    id: 'deleteAdminApiKey',
    scope: 'write',
    method: 'DELETE',
    path: '/v1/admin/api_keys/akey_nosuchkey',
    ok: 404,
  },
];

async function call(h: Harness, op: (typeof OPERATIONS)[number], credential: Credential) {
  return send(`${h.url}${op.path}`, {
    method: op.method,
    headers: { ...credential, ...(op.body ? { 'content-type': 'application/json' } : {}) },
    ...(op.body ? { body: op.body } : {}),
  });
}

describe('admin API', () => {
  let h: Harness;
  let writer: string;
  let reader: string;
  let plain: string;
  let writeKey: string;
  let readKey: string;
  let revokedKey: string;

  beforeAll(async () => {
    h = await startHarness({
      adminGroups: ADMIN_GROUPS,
      staticTokens: [
        { token: TOKEN, subject: 'dev-user', email: 'dev@example.com', groups: ['gateway-admins'] },
      ],
    });
    writer = (
      await h.signIn({ subject: 'u-admin', email: 'admin@example.com', groups: ['eng', 'gateway-admins'] })
    ).token;
    reader = (await h.signIn({ subject: 'u-auditor', groups: ['gateway-auditors'] })).token;
    plain = (await h.signIn({ subject: 'u-plain', groups: ['eng'] })).token;
    const create = async (scope: string) => {
      const r = await send(`${h.url}/v1/admin/api_keys`, {
        headers: { ...bearer(writer), 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${scope} key`, scope }),
      });
      expect(r.status).toBe(201);
      return JSON.parse(r.body) as { id: string; key: string };
    };
    writeKey = (await create('write')).key;
    readKey = (await create('read')).key;
    const doomed = await create('write');
    revokedKey = doomed.key;
    expect(
      (await send(`${h.url}/v1/admin/api_keys/${doomed.id}`, { method: 'DELETE', headers: bearer(writer) }))
        .status,
    ).toBe(200);
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('401 for anything that is not a valid credential', () => {
    const forgeries: Array<[string, () => Promise<Credential>]> = [
      ['no credential', async () => ({})],
      ['a garbage bearer', async () => bearer('not-a-token')],
      ['a malformed admin key', async () => apiKey('ocg_admin_short')],
      ['an unknown admin key', async () => apiKey(`ocg_admin_${'A'.repeat(43)}`)],
      ['a revoked admin key', async () => apiKey(revokedKey)],
      ['two different credentials', async () => ({ ...bearer(writer), ...apiKey(writeKey) })],
      [
        'alg none with admin groups',
        async () =>
          bearer(
            new UnsecuredJWT({ sid: 'x', groups: ['gateway-admins'] })
              .setIssuer(h.issuer)
              .setAudience(h.issuer)
              .setSubject('u-evil')
              .setIssuedAt()
              .setExpirationTime('1h')
              .setJti('j')
              .encode(),
          ),
      ],
      [
        'an ES256 token signed by another key under the gateway’s kid',
        async () => {
          const { privateKey } = await generateKeyPair('ES256');
          const { kid } = decodeProtectedHeader(writer);
          return bearer(
            await new SignJWT({ sid: decodeJwt(writer).sid, groups: ['gateway-admins'] })
              .setProtectedHeader({ alg: 'ES256', kid: kid as string, typ: 'at+jwt' })
              .setIssuer(h.issuer)
              .setAudience(h.issuer)
              .setSubject('u-evil')
              .setIssuedAt()
              .setExpirationTime('1h')
              .setJti('j')
              .sign(privateKey),
          );
        },
      ],
      [
        'an IdP-style RS256 ID token with admin groups',
        async () => {
          const { privateKey } = await generateKeyPair('RS256');
          return bearer(
            await new SignJWT({ groups: ['gateway-admins'], email: 'evil@example.com' })
              .setProtectedHeader({ alg: 'RS256', kid: 'idp-key' })
              .setIssuer('https://idp.example.test')
              .setAudience('gateway')
              .setSubject('u-evil')
              .setIssuedAt()
              .setExpirationTime('1h')
              .sign(privateKey),
          );
        },
      ],
      [
        'a non-admin’s token with admin groups spliced into its payload',
        async () => {
          const [header, payload, signature] = plain.split('.') as [string, string, string];
          const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
          claims.groups = ['gateway-admins'];
          return bearer(
            `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`,
          );
        },
      ],
      [
        'an expired gateway token of an admin',
        async () => {
          const { sessionId } = await h.signIn({ subject: 'u-admin-old', groups: ['gateway-admins'] });
          const { token } = await issueAccessToken(
            h.keyring,
            {
              issuer: h.issuer,
              audience: h.issuer,
              ttlS: ACCESS_TTL_S,
              now: () => Date.now() - 3 * ACCESS_TTL_S * 1000,
            },
            { subject: 'u-admin-old', email: null, name: null, groups: ['gateway-admins'], sessionId },
          );
          return bearer(token);
        },
      ],
      [
        'a gateway token of an admin for another audience',
        async () => {
          const { sessionId } = await h.signIn({ subject: 'u-admin-aud', groups: ['gateway-admins'] });
          const { token } = await issueAccessToken(
            h.keyring,
            { issuer: h.issuer, audience: 'https://other.example', ttlS: ACCESS_TTL_S },
            { subject: 'u-admin-aud', email: null, name: null, groups: ['gateway-admins'], sessionId },
          );
          return bearer(token);
        },
      ],
    ];

    it.each(forgeries)('%s → 401 authentication_error on every admin operation', async (_what, make) => {
      const credential = await make();
      for (const op of OPERATIONS) {
        const r = await call(h, op, credential);
        expect(r.status, op.id).toBe(401);
        const body = JSON.parse(r.body);
        expect(body.error.type, op.id).toBe('authentication_error');
        expect(r.headers['www-authenticate'], op.id).toMatch(/^Bearer/);
        for (const value of Object.values(credential)) {
          const secret = value.replace(/^Bearer /, '');
          if (secret.length > 8) expect(r.body).not.toContain(secret);
        }
      }
    });
  });

  describe('403 for a valid credential without the role or the scope, the operation otherwise', () => {
    const callers: Array<[string, () => Credential, 'none' | 'read' | 'write']> = [
      ['a user in no admin group', () => bearer(plain), 'none'],
      ['a development static token (its config groups never count)', () => bearer(TOKEN), 'none'],
      ['a user in a read admin group', () => bearer(reader), 'read'],
      ['a read admin API key', () => apiKey(readKey), 'read'],
      ['a read admin API key sent as a bearer', () => bearer(readKey), 'read'],
      ['a user in a write admin group', () => bearer(writer), 'write'],
      ['the same access token in both headers', () => ({ ...bearer(writer), ...apiKey(writer) }), 'write'],
      ['a write admin API key', () => apiKey(writeKey), 'write'],
    ];
    for (const [who, credential, role] of callers) {
      it.each(OPERATIONS)(`${who}: $id ($scope)`, async (op) => {
        const r = await call(h, op, credential());
        const allowed = role === 'write' || (role === 'read' && op.scope === 'read');
        if (allowed) expect(r.status).toBe(op.ok);
        else {
          expect(r.status).toBe(403);
          expect(JSON.parse(r.body).error.type).toBe('permission_error');
        }
      });
    }
  });

  it.each([
    [
      'a write user',
      () => bearer(writer),
      {
        type: 'admin_identity',
        kind: 'user',
        subject: 'u-admin',
        email: 'admin@example.com',
        scopes: ['read', 'write'],
      },
    ],
    [
      'a read user',
      () => bearer(reader),
      {
        type: 'admin_identity',
        kind: 'user',
        subject: 'u-auditor',
        email: 'u-auditor@example.com',
        scopes: ['read'],
      },
    ],
  ])('GET /v1/admin/me for %s', async (_who, credential, expected) => {
    const r = await send(`${h.url}/v1/admin/me`, { headers: credential() });
    expect(JSON.parse(r.body)).toEqual(expected);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  describe('admin API keys', () => {
    it('are shown once, hashed at rest, never logged, and record their use', async () => {
      const r = await send(`${h.url}/v1/admin/api_keys`, {
        headers: { ...bearer(writer), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ci pipeline', scope: 'read' }),
      });
      expect(r.status).toBe(201);
      expect(r.headers['cache-control']).toBe('no-store');
      const created = JSON.parse(r.body);
      expect(created).toMatchObject({
        type: 'admin_api_key',
        name: 'ci pipeline',
        scope: 'read',
        created_by: 'user:u-admin',
        last_used_at: null,
        revoked_at: null,
      });
      expect(created.id).toMatch(/^akey_/);
      expect(created.key).toMatch(KEY_SHAPE);
      const key = created.key as string;

      // At rest: only the SHA-256 of the whole key; no column holds the key or its random part.
      const rows = (await h.store.query('SELECT * FROM admin_api_keys WHERE id = $1', [created.id])).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]?.secret_hash).toBe(sha256Hex(key));
      expect(JSON.stringify(rows)).not.toContain(key.slice('ocg_admin_'.length));

      // Never again: not in the list, nor in any log line.
      const list = await send(`${h.url}/v1/admin/api_keys?limit=1000`, { headers: bearer(writer) });
      expect(list.body).not.toContain(key.slice('ocg_admin_'.length));
      const listed = JSON.parse(list.body).data.find((k: { id: string }) => k.id === created.id);
      expect(listed).toEqual({ ...created, key: undefined });
      expect(Object.keys(listed)).not.toContain('key');

      // It works, as x-api-key, and its use is recorded.
      const me = await send(`${h.url}/v1/admin/me`, { headers: apiKey(key) });
      expect(JSON.parse(me.body)).toEqual({
        type: 'admin_identity',
        kind: 'api_key',
        key_id: created.id,
        scopes: ['read'],
      });
      const after = await send(`${h.url}/v1/admin/api_keys?limit=1000`, { headers: apiKey(key) });
      const used = JSON.parse(after.body).data.find((k: { id: string }) => k.id === created.id);
      expect(Date.parse(used.last_used_at)).toBeGreaterThan(Date.parse(created.created_at) - 1);

      expect(h.log.lines.join('\n')).not.toContain(key.slice('ocg_admin_'.length));
      expect(h.log.records().some((l) => l.msg === 'admin API key created' && l.key_id === created.id)).toBe(
        true,
      );
    });

    it('a deleted key stops working at once, on every replica', async () => {
      const other = await h.replica();
      try {
        const r = await send(`${h.url}/v1/admin/api_keys`, {
          headers: { ...apiKey(writeKey), 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'short-lived', scope: 'write' }),
        });
        const { id, key } = JSON.parse(r.body);
        expect(JSON.parse(r.body).created_by).toMatch(/^api_key:akey_/);
        expect((await send(`${other.url}/v1/admin/me`, { headers: apiKey(key) })).status).toBe(200);
        const deleted = await send(`${h.url}/v1/admin/api_keys/${id}`, {
          method: 'DELETE',
          headers: apiKey(key),
        });
        expect(deleted.status).toBe(200);
        const body = JSON.parse(deleted.body);
        expect(body.revoked_at).not.toBeNull();
        expect(body.key).toBeUndefined();
        for (const url of [h.url, other.url]) {
          expect((await send(`${url}/v1/admin/me`, { headers: apiKey(key) })).status).toBe(401);
        }
        // Deleting again is harmless and keeps the first revocation time.
        const again = await send(`${h.url}/v1/admin/api_keys/${id}`, {
          method: 'DELETE',
          headers: apiKey(writeKey),
        });
        expect(again.status).toBe(200);
        expect(JSON.parse(again.body).revoked_at).toBe(body.revoked_at);
      } finally {
        await other.close();
      }
    });

    it.each([
      ['no scope', { name: 'x' }],
      ['an unknown scope', { name: 'x', scope: 'admin' }],
      ['an empty name', { name: '', scope: 'read' }],
      ['a name of 101 characters', { name: 'n'.repeat(101), scope: 'read' }],
      ['a name with a control character', { name: 'a\nb', scope: 'read' }],
      ['an unknown field', { name: 'x', scope: 'read', key: 'ocg_admin_chosen' }],
    ])('creating a key with %s is 400 invalid_request_error', async (_what, body) => {
      const r = await send(`${h.url}/v1/admin/api_keys`, {
        headers: { ...bearer(writer), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error.type).toBe('invalid_request_error');
    });

    it('list newest first, paged by limit and after_id', async () => {
      const all = JSON.parse(
        (await send(`${h.url}/v1/admin/api_keys?limit=1000`, { headers: bearer(reader) })).body,
      );
      expect(all.data.length).toBeGreaterThanOrEqual(4);
      const created = all.data.map((k: { created_at: string }) => Date.parse(k.created_at));
      expect([...created].sort((a, b) => b - a)).toEqual(created);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const query: string = `?limit=2${after ? `&after_id=${after}` : ''}`;
        const page = JSON.parse(
          (await send(`${h.url}/v1/admin/api_keys${query}`, { headers: bearer(reader) })).body,
        );
        seen.push(...page.data.map((k: { id: string }) => k.id));
        if (!page.has_more) break;
        after = page.last_id;
      }
      expect(seen).toEqual(all.data.map((k: { id: string }) => k.id));
      for (const query of ['?limit=0', '?limit=1001', '?limit=x', '?after_id=akey_nope']) {
        const r = await send(`${h.url}/v1/admin/api_keys${query}`, { headers: bearer(reader) });
        expect(r.status, query).toBe(400);
      }
    });
  });

  describe('sessions', () => {
    it('lists sessions newest first, per user, paged, with their revocation', async () => {
      const a1 = await h.signIn({ subject: 'u-list-a', email: 'a@example.com' });
      const a2 = await h.signIn({ subject: 'u-list-a', email: 'a@example.com' });
      await h.signIn({ subject: 'u-list-b' });
      const revoke = await send(`${h.url}/v1/admin/sessions/${a1.sessionId}/revoke`, {
        method: 'POST',
        headers: bearer(writer),
      });
      expect(revoke.status).toBe(200);
      const revoked = JSON.parse(revoke.body);
      expect(revoked).toMatchObject({
        type: 'session',
        id: a1.sessionId,
        user_id: 'u-list-a',
        email: 'a@example.com',
        revoked_reason: ADMIN_REVOKED,
      });
      expect(Date.parse(revoked.revoked_at)).not.toBeNaN();

      const mine = JSON.parse(
        (await send(`${h.url}/v1/admin/sessions?user_id=u-list-a`, { headers: bearer(reader) })).body,
      );
      expect(mine.data.map((s: { id: string }) => s.id).sort()).toEqual([a1.sessionId, a2.sessionId].sort());
      const live = mine.data.find((s: { id: string }) => s.id === a2.sessionId);
      expect(live).toMatchObject({
        type: 'session',
        user_id: 'u-list-a',
        revoked_at: null,
        revoked_reason: null,
      });
      for (const field of ['created_at', 'last_used_at', 'expires_at'])
        expect(Date.parse(live[field])).not.toBeNaN();

      const all = JSON.parse(
        (await send(`${h.url}/v1/admin/sessions?limit=1000`, { headers: bearer(reader) })).body,
      );
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const query: string = `?limit=3${after ? `&after_id=${after}` : ''}`;
        const page = JSON.parse(
          (await send(`${h.url}/v1/admin/sessions${query}`, { headers: bearer(reader) })).body,
        );
        seen.push(...page.data.map((s: { id: string }) => s.id));
        if (!page.has_more) break;
        after = page.last_id;
      }
      expect(seen).toEqual(all.data.map((s: { id: string }) => s.id));
      const created = all.data.map((s: { created_at: string }) => Date.parse(s.created_at));
      expect([...created].sort((x, y) => y - x)).toEqual(created);

      const bad = await send(`${h.url}/v1/admin/sessions?after_id=nope`, { headers: bearer(reader) });
      expect(bad.status).toBe(400);
    });

    it('revoking an unknown session is 404 not_found_error', async () => {
      const r = await send(`${h.url}/v1/admin/sessions/nope/revoke`, {
        method: 'POST',
        headers: bearer(writer),
      });
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body).error.type).toBe('not_found_error');
    });

    it('an admin whose own session is revoked loses admin access', async () => {
      const admin = await h.signIn({ subject: 'u-admin-2', groups: ['gateway-admins'] });
      expect((await send(`${h.url}/v1/admin/me`, { headers: bearer(admin.token) })).status).toBe(200);
      await send(`${h.url}/v1/admin/users/u-admin-2/revoke_sessions`, {
        method: 'POST',
        headers: bearer(writer),
      });
      const r = await send(`${h.url}/v1/admin/me`, { headers: bearer(admin.token) });
      expect(r.status).toBe(401);
    });
  });
});

describe('admin API on a gateway without sign-in', () => {
  it('accepts admin API keys, refuses bearer tokens with 401 and static tokens with 403', async () => {
    const h = await startHarness({
      mode: 'pipeline',
      withoutSignIn: true,
      adminGroups: ADMIN_GROUPS,
      staticTokens: [{ token: TOKEN, subject: 'dev-user', groups: ['gateway-admins'] }],
    });
    try {
      const { key } = await createAdminApiKeys(h.store).create({
        name: 'boot',
        scope: 'write',
        createdBy: 'cli',
      });
      const me = await send(`${h.url}/v1/admin/me`, { headers: apiKey(key) });
      expect(me.status).toBe(200);
      const revoke = await send(`${h.url}/v1/admin/users/someone/revoke_sessions`, {
        method: 'POST',
        headers: apiKey(key),
      });
      expect(JSON.parse(revoke.body)).toEqual({
        type: 'revocation',
        user_id: 'someone',
        sessions_revoked: 0,
      });
      const { token } = await h.signIn({ subject: 'u-admin', groups: ['gateway-admins'] });
      const jwt = await send(`${h.url}/v1/admin/me`, { headers: bearer(token) });
      expect(jwt.status).toBe(401);
      expect(JSON.parse(jwt.body).error.message).toMatch(/sign-in is not configured/);
      expect((await send(`${h.url}/v1/admin/me`, { headers: bearer(TOKEN) })).status).toBe(403);
    } finally {
      await h.close();
    }
  });
});
