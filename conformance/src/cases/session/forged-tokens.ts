/**
 * SESSION-12 — a gateway accepts only the access tokens it issued, with the algorithm and keys it issued them
 * with. Built from a genuine access token (its header and claims, when it is a JWT): unsigned (`alg: none`),
 * HS256 keyed with the gateway's published public key (or a random secret when it publishes none), signed by a
 * key it never saw (with its `kid`, with the key embedded in the header, with the IdP's key), claims altered
 * under the original signature (iss, aud, exp, sub, groups), signatures truncated or spliced from another token,
 * and the IdP's own ID token: every one is `401 authentication_error` with a `WWW-Authenticate: Bearer`
 * challenge, in `Authorization` and in `x-api-key`, and the upstream is never called.
 */
import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { assemble, decodeJwt, foreignKey, signHs256, signWithJwk } from '../../signin/jwt.ts';
import { expectAccepted, expectRefusedProbe, probeBearer } from './support.ts';

function withoutKid(header: Record<string, unknown>): Record<string, unknown> {
  const { kid: _kid, ...rest } = header;
  return rest;
}

export default defineCase({
  id: 'session/forged-tokens',
  title: 'Forged, altered, foreign-signed and IdP tokens are refused with 401',
  feature: 'sign-in',
  requirements: ['SESSION-12'],
  timeoutMs: 60_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const genuine = await ctx.signIn(user);
    const second = await ctx.signIn(ctx.idp.createUser({ groups: [ctx.policy.groups.developers] }));
    await expectAccepted(ctx, genuine.accessToken, 'the genuine access token');

    const now = Math.floor(Date.now() / 1000);
    const decoded = decodeJwt(genuine.accessToken);
    const header: Record<string, unknown> = decoded?.header ?? { alg: 'ES256', typ: 'at+jwt', kid: 'ocg' };
    const claims: Record<string, unknown> = decoded?.payload ?? {
      iss: ctx.gateway.baseUrl,
      aud: ctx.gateway.baseUrl,
      sub: user.subject,
      email: user.email,
      groups: [...user.groups],
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: ctx.rng.hex(32),
    };
    if (!decoded) ctx.note('the access token is opaque (not a JWT): forgeries use made-up claims');
    const long = { ...claims, exp: now + 3600 };
    const signature = decoded?.signature ?? '';
    const headerPart = genuine.accessToken.split('.')[0] ?? '';
    const tamper = (patch: Record<string, unknown>) => {
      const [, , sig] = genuine.accessToken.split('.');
      return `${headerPart}.${Buffer.from(JSON.stringify({ ...claims, ...patch })).toString('base64url')}.${sig ?? ''}`;
    };

    const foreign = await foreignKey('ES256');
    const foreignRsa = await foreignKey('RS256');
    const idpKey = ctx.idp.signingKeys.find((k) => k.alg === 'RS256') as JWK;
    const idpEcKey = ctx.idp.signingKeys.find((k) => k.alg === 'ES256') as JWK;

    // The gateway's public keys, when its metadata points at a JWKS (algorithm confusion: HMAC keyed with them).
    const meta = await ctx.oauth.metadata();
    const hmacSecrets: Array<[string, string | Buffer]> = [];
    if (typeof meta.jwks_uri === 'string') {
      const res = await ctx.http.fetch(meta.jwks_uri, { signal: ctx.signal });
      const jwks = (await res.json().catch(() => ({}))) as { keys?: JWK[] };
      for (const key of jwks.keys ?? []) {
        const pem = createPublicKey({ key: key as import('node:crypto').JsonWebKey, format: 'jwk' })
          .export({ type: 'spki', format: 'pem' })
          .toString();
        hmacSecrets.push([`its public key ${key.kid ?? ''} as PEM`, pem]);
        hmacSecrets.push([`its public key ${key.kid ?? ''} as JWK JSON`, JSON.stringify(key)]);
      }
    }
    if (hmacSecrets.length === 0)
      hmacSecrets.push(['a random secret (no JWKS published)', ctx.rng.string(64)]);

    const idToken = await signWithJwk(
      { kid: idpKey.kid, typ: 'JWT' },
      {
        iss: ctx.idp.issuer,
        aud: ctx.idp.clients[0]?.clientId ?? 'ocg-gateway',
        sub: user.subject,
        email: user.email,
        email_verified: true,
        name: user.name,
        groups: [...user.groups, ctx.policy.groups.adminWrite],
        nonce: ctx.rng.hex(16),
        iat: now,
        exp: now + 3600,
      },
      idpKey,
      'RS256',
    );

    const forgeries: Array<[string, string]> = [
      ['alg none, no signature', assemble({ ...header, alg: 'none' }, long)],
      ['alg none, the original signature kept', assemble({ ...header, alg: 'none' }, long, signature)],
      ['alg "None"', assemble({ ...header, alg: 'None' }, long)],
      ...hmacSecrets.map(([what, secret]): [string, string] => [
        `HS256 keyed with ${what}`,
        signHs256(header, long, secret),
      ]),
      ['ES256 by an unknown key, with the genuine kid', await signWithJwk(header, long, foreign.privateJwk)],
      [
        'ES256 by an unknown key embedded in the header (jwk)',
        await signWithJwk(withoutKid({ ...header, jwk: foreign.publicJwk }), long, foreign.privateJwk),
      ],
      [
        "ES256 by the IdP's key, pointing at the IdP's JWKS (jku)",
        await signWithJwk({ ...header, kid: idpEcKey.kid, jku: `${ctx.idp.issuer}/jwks` }, long, idpEcKey),
      ],
      [
        'RS256 by an unknown key, with the genuine kid',
        await signWithJwk(header, long, foreignRsa.privateJwk, 'RS256'),
      ],
      [
        "RS256 by the IdP's key with the gateway's claims",
        await signWithJwk({ ...header, kid: idpKey.kid }, long, idpKey, 'RS256'),
      ],
      [
        'ES256 by an unknown key with a wrong iss',
        await signWithJwk(header, { ...long, iss: 'https://attacker.example' }, foreign.privateJwk),
      ],
      ["the IdP's ID token for the user", idToken],
    ];
    if (decoded) {
      forgeries.push(
        ['iss altered under the original signature', tamper({ iss: 'https://attacker.example' })],
        ['aud altered under the original signature', tamper({ aud: 'https://other-gateway.example' })],
        ['exp pushed back under the original signature', tamper({ exp: now + 86400 * 365 })],
        ['exp in the past under the original signature', tamper({ exp: now - 3600 })],
        ['sub altered under the original signature', tamper({ sub: ctx.rng.hex(24) })],
        [
          'an admin group added under the original signature',
          tamper({
            groups: [...(Array.isArray(claims.groups) ? claims.groups : []), ctx.policy.groups.adminWrite],
          }),
        ],
        ['the signature truncated', genuine.accessToken.slice(0, -6)],
        [
          "another token's signature spliced in",
          `${genuine.accessToken.split('.').slice(0, 2).join('.')}.${second.accessToken.split('.')[2] ?? ''}`,
        ],
        ['no signature segment', genuine.accessToken.split('.').slice(0, 2).join('.')],
      );
    } else {
      forgeries.push([
        'the genuine token with its last characters changed',
        `${genuine.accessToken.slice(0, -4)}AAAA`,
      ]);
    }

    for (const [what, token] of forgeries) {
      expectThat(token !== genuine.accessToken, `kit bug: forgery "${what}" equals the genuine token`);
      expectRefusedProbe(await probeBearer(ctx, token), what);
    }
    expectRefusedProbe(await probeBearer(ctx, forgeries[0]?.[1] ?? '', 'x-api-key'), 'alg none in x-api-key');
    expectRefusedProbe(await probeBearer(ctx, idToken, 'x-api-key'), "the IdP's ID token in x-api-key");
    const upstream = ctx.mocks.anthropic.requests.length;
    expectThat(
      upstream === 1,
      `only the genuine token's request may reach the upstream, it received ${upstream} requests`,
    );
  },
});
