/**
 * ADMIN-3 — only a token the gateway signed can carry an admin role. Starting from a genuine access token of a
 * developers user (its `403` is the baseline) and a genuine write admin (`200`, so the gateway's admin path works):
 * the developer's token with an admin group added under the original signature, the same unsigned (`alg: none`),
 * re-signed by a key the gateway never saw, and the IdP's own ID token naming the admin groups — each is
 * `401 authentication_error` on `GET /v1/admin/me` and on `POST /v1/admin/api_keys`, in `Authorization` and in
 * `x-api-key`, and no key gets created.
 */
import type { JWK } from 'jose';
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { assemble, decodeJwt, foreignKey, signWithJwk } from '../../signin/jwt.ts';
import { type AdminCredential, admin, expectAdmin, signedIn } from '../policy/support.ts';

export default defineCase({
  id: 'admin/unsigned-claims',
  title: 'Admin groups in a token the gateway did not sign grant nothing',
  feature: 'admin',
  requirements: ['ADMIN-3'],
  timeoutMs: 40_000,
  async run(ctx) {
    const { groups } = ctx.policy;
    const adminGroups = [groups.adminWrite, groups.adminRead];
    const { user, tokens } = await signedIn(ctx, [groups.developers]);
    const { tokens: adminTokens } = await signedIn(ctx, [groups.adminWrite]);
    expectAdmin(
      await admin(ctx, { bearer: adminTokens.accessToken }, 'getAdminIdentity', 'GET', '/v1/admin/me'),
      200,
      null,
      'a genuine write admin: GET /v1/admin/me',
    );
    expectAdmin(
      await admin(ctx, { bearer: tokens.accessToken }, 'getAdminIdentity', 'GET', '/v1/admin/me'),
      403,
      'permission_error',
      "the developer's genuine token: GET /v1/admin/me",
    );

    const now = Math.floor(Date.now() / 1000);
    const decoded = decodeJwt(tokens.accessToken);
    const header = decoded?.header ?? { alg: 'ES256', typ: 'at+jwt' };
    const claims: Record<string, unknown> = {
      ...(decoded?.payload ?? {
        iss: ctx.gateway.baseUrl,
        aud: ctx.gateway.baseUrl,
        sub: user.subject,
        email: user.email,
        iat: now,
        exp: now + 3600,
      }),
      groups: [...user.groups, ...adminGroups],
    };
    if (!decoded) ctx.note('the access token is opaque (not a JWT): forgeries use made-up claims');
    const foreign = await foreignKey('ES256');
    const idpKey = ctx.idp.signingKeys.find((k) => k.alg === 'RS256') as JWK;
    const forgeries: Array<[string, string]> = [
      ['unsigned (alg none) with admin groups', assemble({ ...header, alg: 'none' }, claims)],
      [
        're-signed by an unknown key with admin groups',
        await signWithJwk(header, claims, foreign.privateJwk),
      ],
      [
        "the IdP's ID token naming the admin groups",
        await signWithJwk(
          { kid: idpKey.kid, typ: 'JWT' },
          {
            iss: ctx.idp.issuer,
            aud: ctx.idp.clients[0]?.clientId ?? 'ocg-gateway',
            sub: user.subject,
            email: user.email,
            email_verified: true,
            groups: adminGroups,
            iat: now,
            exp: now + 3600,
          },
          idpKey,
          'RS256',
        ),
      ],
    ];
    if (decoded) {
      const parts = tokens.accessToken.split('.');
      forgeries.unshift([
        'admin groups added under the original signature',
        `${parts[0]}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${parts[2]}`,
      ]);
    }
    for (const [what, token] of forgeries) {
      for (const [how, credential] of [
        ['Authorization', { bearer: token }],
        ['x-api-key', { apiKey: token }],
      ] as Array<[string, AdminCredential]>) {
        expectAdmin(
          await admin(ctx, credential, 'getAdminIdentity', 'GET', '/v1/admin/me'),
          401,
          'authentication_error',
          `${what} in ${how}: GET /v1/admin/me`,
        );
        expectAdmin(
          await admin(ctx, credential, 'createAdminApiKey', 'POST', '/v1/admin/api_keys', {
            name: `forged ${ctx.rng.hex(4)}`,
            scope: 'write',
          }),
          401,
          'authentication_error',
          `${what} in ${how}: POST /v1/admin/api_keys`,
        );
      }
    }
    const list = await admin(
      ctx,
      { bearer: adminTokens.accessToken },
      'listAdminApiKeys',
      'GET',
      '/v1/admin/api_keys?limit=1000',
    );
    expectAdmin(list, 200, null, 'listing the keys afterwards');
    const forged = (list.json as { data?: Array<{ name?: string }> }).data?.filter((k) =>
      k.name?.startsWith('forged '),
    );
    expectThat((forged ?? []).length === 0, `forged tokens created ${forged?.length} admin API keys`);
  },
});
