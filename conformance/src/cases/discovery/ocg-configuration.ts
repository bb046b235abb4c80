/**
 * DISCOVERY-5 — `GET /.well-known/ocg-configuration` answers, without credentials, the protocol version and the
 * feature ids the gateway implements. The runner reads the same document to decide which cases are
 * `unsupported`; this case checks the document itself: known feature ids, and declarations that hold (a gateway
 * that declares `sign-in` serves the authorization server metadata).
 */
import { loadRequirements } from '@ocg/spec';
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';

export default defineCase({
  id: 'discovery/ocg-configuration',
  title: 'GET /.well-known/ocg-configuration lists the protocol version and the implemented features',
  feature: 'ocg-configuration',
  requirements: ['DISCOVERY-5'],
  timeoutMs: 15_000,
  async run(ctx) {
    const res = await ctx.client.send({
      operationId: 'getOcgConfiguration',
      path: '/.well-known/ocg-configuration',
      bearer: null,
    });
    const doc = await res.json<Record<string, unknown>>();
    expectThat(res.status === 200, `expected 200 without credentials, got ${res.status}`, { body: doc });
    expectThat(
      typeof doc.protocol_version === 'string' && doc.protocol_version !== '',
      'protocol_version is missing or empty',
      { body: doc },
    );
    const features = doc.features;
    expectThat(
      Array.isArray(features) && features.every((f) => typeof f === 'string'),
      'features must be a list of feature ids',
      { body: doc },
    );
    const known = new Set((await loadRequirements()).features.map((f) => f.id));
    const unknown = features.filter((f) => !known.has(f as string));
    if (unknown.length > 0)
      ctx.note(`features not in requirements.yaml (extensions?): ${unknown.join(', ')}`);
    expectThat(
      new Set(features).size === features.length,
      `features lists an id twice: ${features.join(', ')}`,
    );
    if (features.includes('sign-in')) {
      const meta = await ctx.client.send({
        operationId: 'getAuthorizationServerMetadata',
        path: '/.well-known/oauth-authorization-server',
        bearer: null,
      });
      await meta.text();
      expectThat(
        meta.status === 200,
        `the gateway declares sign-in but GET /.well-known/oauth-authorization-server answered ${meta.status}`,
      );
    }
    const endpoints = doc.endpoints;
    if (endpoints !== undefined && endpoints !== null && typeof endpoints === 'object') {
      const origin = new URL(ctx.gateway.baseUrl).origin;
      for (const [name, value] of Object.entries(endpoints)) {
        expectThat(typeof value === 'string', `endpoints.${name} is not a string`);
        const url = new URL(value, ctx.gateway.baseUrl);
        expectThat(
          url.origin === origin,
          `endpoints.${name} ${JSON.stringify(value)} is not on the gateway's origin ${origin}`,
        );
      }
    }
  },
});
