/**
 * DISCOVERY-4 — `GET /.well-known/oauth-authorization-server` answers RFC 8414 metadata without credentials: the
 * device authorization, token and revocation endpoints and the issuer are same-origin with the gateway's base URL
 * (Claude Code refuses cross-origin endpoints), and there is no `authorization_endpoint` (device flow only).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { DEVICE_CODE_GRANT } from '../../signin/driver.ts';

export default defineCase({
  id: 'discovery/authorization-server-metadata',
  title: 'RFC 8414 metadata names same-origin device, token and revocation endpoints',
  feature: 'sign-in',
  requirements: ['DISCOVERY-4'],
  timeoutMs: 15_000,
  async run(ctx) {
    const res = await ctx.client.send({
      operationId: 'getAuthorizationServerMetadata',
      path: '/.well-known/oauth-authorization-server',
      bearer: null,
    });
    const meta = await res.json<Record<string, unknown>>();
    expectThat(res.status === 200, `expected 200 without credentials, got ${res.status}`, { body: meta });
    const origin = new URL(ctx.gateway.baseUrl).origin;
    for (const field of [
      'issuer',
      'device_authorization_endpoint',
      'token_endpoint',
      'revocation_endpoint',
    ]) {
      const value = meta[field];
      expectThat(typeof value === 'string', `the metadata has no ${field}`, { body: meta });
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      expectThat(url, `${field} is not an absolute URL: ${JSON.stringify(value)}`);
      expectThat(
        url.origin === origin,
        `${field} ${JSON.stringify(value)} is not same-origin with the gateway's base URL ${ctx.gateway.baseUrl}`,
      );
    }
    expectThat(
      !('authorization_endpoint' in meta),
      'the metadata has an authorization_endpoint: clients must sign in with the device flow only',
    );
    const grants = meta.grant_types_supported;
    expectThat(
      Array.isArray(grants) && grants.includes(DEVICE_CODE_GRANT) && grants.includes('refresh_token'),
      `grant_types_supported must list ${DEVICE_CODE_GRANT} and refresh_token, got ${JSON.stringify(grants)}`,
    );
    const methods = meta.token_endpoint_auth_methods_supported;
    if (methods !== undefined) {
      expectThat(
        Array.isArray(methods) && methods.includes('none'),
        `token_endpoint_auth_methods_supported must include "none" (public clients), got ${JSON.stringify(methods)}`,
      );
    }
  },
});
