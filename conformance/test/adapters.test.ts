/**
 * Loading adapters from files (the `reference` name, good modules, the clear errors for bad ones), what a gateway
 * may hand back, the reference adapter's rendered configuration, and the policy fixture.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@ocg/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AdapterContext } from '../src/adapters/contract.ts';
import { createPolicyFixture, FIXTURE_MODELS } from '../src/adapters/fixture.ts';
import { loadAdapter, validateGatewayUnderTest } from '../src/adapters/load.ts';
import { referenceAdapter, renderReferenceConfig, resolveGatewayBin } from '../src/adapters/reference.ts';
import { createRng } from '../src/util/rng.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocg-adapters-'));
  const files: Record<string, string> = {
    'good.mjs': "export default { name: 'good', async start() { return {}; } };",
    'good.ts':
      "const a: { name: string; start(): Promise<unknown> } = { name: 'typed', start: async () => ({}) };\nexport default a;",
    'no-default.mjs': "export const adapter = { name: 'x', start() {} };",
    'no-start.mjs': "export default { name: 'x' };",
    'empty-name.mjs': "export default { name: ' ', start() {} };",
    'not-object.mjs': 'export default 42;',
    'syntax.mjs': 'export default {',
    'adapter.json': '{}',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadAdapter', () => {
  it('returns the built-in adapter for "reference"', async () => {
    expect(await loadAdapter('reference')).toBe(referenceAdapter);
  });

  it.each([
    ['good.mjs', 'good'],
    ['good.ts', 'typed'],
  ])('loads %s', async (file, name) => {
    expect((await loadAdapter(file, dir)).name).toBe(name);
  });

  it.each([
    ['missing.ts', /no such file/],
    ['adapter.json', /expected an ES module file/],
    ['no-default.mjs', /has no default export/],
    ['no-start.mjs', /`start` must be a function/],
    ['empty-name.mjs', /`name` must be a non-empty string/],
    ['not-object.mjs', /default export must be an object/],
    ['syntax.mjs', /failed to import/],
  ])('refuses %s', async (file, message) => {
    await expect(loadAdapter(file, dir)).rejects.toMatchObject({ code: 'ERR_ADAPTER_INVALID', message });
  });
});

describe('validateGatewayUnderTest', () => {
  const stop = async () => {};
  it.each([
    ['no object', null, /no object/],
    ['a relative baseUrl', { baseUrl: '/x', bearer: 'b', stop }, /baseUrl/],
    ['an empty bearer', { baseUrl: 'http://x', bearer: '', stop }, /bearer/],
    ['a bad clock tolerance', { baseUrl: 'http://x', stop, clockToleranceS: -1 }, /clockToleranceS/],
    ['no stop', { baseUrl: 'http://x', bearer: 'b' }, /stop/],
    ['bad features', { baseUrl: 'http://x', bearer: 'b', stop, features: 'inference' }, /features/],
    ['bad limit', { baseUrl: 'http://x', bearer: 'b', stop, maxRequestBodyBytes: -1 }, /maxRequestBodyBytes/],
  ])('refuses %s', (_what, value, message) => {
    expect(() => validateGatewayUnderTest(value, 'a')).toThrow(message);
  });
  it('accepts a complete gateway, and one without a bearer (contract v1: the runner signs in)', () => {
    expect(() =>
      validateGatewayUnderTest({ baseUrl: 'http://x', bearer: 'b', stop, features: ['inference'] }, 'a'),
    ).not.toThrow();
    expect(() =>
      validateGatewayUnderTest({ baseUrl: 'http://x', stop, clockToleranceS: 5 }, 'a'),
    ).not.toThrow();
  });
});

describe('the reference adapter', () => {
  it("finds the gateway through @ocg/gateway's package.json bin", async () => {
    expect(await resolveGatewayBin()).toMatch(/reference-impl\/src\/main\.ts$/);
  });

  const ctx: AdapterContext = {
    contractVersion: 1,
    mocks: {
      anthropic: { url: 'http://127.0.0.1:1111', apiKey: 'sk-upstream-secret' },
      idp: {
        issuer: 'http://127.0.0.1:2222',
        discoveryUrl: 'http://127.0.0.1:2222/.well-known/openid-configuration',
        scopes: ['openid', 'email', 'profile', 'groups'],
        claims: { email: 'email', emailVerified: 'email_verified', name: 'name', groups: 'groups' },
        registerClient: async () => ({
          clientId: 'c',
          clientSecret: 's',
          tokenEndpointAuthMethod: 'client_secret_post',
        }),
      },
    },
    policy: createPolicyFixture(createRng(3)),
    timing: { accessTokenTtlS: 60, clockToleranceS: 5, deviceCodeExpiresInS: 60, deviceCodeIntervalS: 1 },
    workDir: '/tmp/x',
    seed: 3,
    log: () => {},
  };

  it("renders a configuration the gateway's own loader accepts, from the kit's context only", () => {
    const config = renderReferenceConfig(ctx, {
      maxRequestBodyBytes: 2 * 1024 * 1024,
      logLevel: 'info',
      clientId: 'ocg-reference-x',
    });
    const text = stringify(config);
    expect(text).not.toContain('sk-upstream-secret');
    const parsed = parseConfig(text, {
      OCG_CONFORMANCE_DATABASE_URL: 'pglite:memory:',
      OCG_CONFORMANCE_KEK: Buffer.alloc(32, 7).toString('base64url'),
      OCG_CONFORMANCE_OIDC_CLIENT_SECRET: 'client-secret-from-env',
      OCG_CONFORMANCE_ANTHROPIC_API_KEY: 'sk-upstream-secret',
    });
    expect(parsed.auth.oidc?.issuer).toBe('http://127.0.0.1:2222');
    expect(parsed.auth.oidc?.clientSecret).toBe('client-secret-from-env');
    expect(parsed.auth.adminGroups).toEqual({
      read: [ctx.policy.groups.adminRead],
      write: [ctx.policy.groups.adminWrite],
    });
    expect(parsed.auth.accessTokenTtlS).toBe(60);
    expect(parsed.auth.deviceAuthorization).toEqual({ expiresInS: 60, intervalS: 1 });
    expect(parsed.models.map((m) => m.id)).toEqual(FIXTURE_MODELS.map((m) => m.id));
    expect(parsed.policies.map((p) => p.name)).toEqual(['developers', 'restricted', 'empty-settings']);
  });
});

describe('the policy fixture', () => {
  it('names its groups with a seeded suffix (an adapter must render them, not hard-code them)', () => {
    const a = createPolicyFixture(createRng(1));
    const b = createPolicyFixture(createRng(2));
    expect(a.groups.developers).not.toBe(b.groups.developers);
    expect(createPolicyFixture(createRng(1))).toEqual(a);
  });

  it("offers every model the kit's inference cases and the shared fixtures send", async () => {
    const ids = new Set(FIXTURE_MODELS.map((m) => m.id));
    const sent = new Set(['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5']);
    for (const file of ['messages/create-message.json', 'messages/count-tokens.json']) {
      const doc = JSON.parse(await readFile(new URL(`../../fixtures/${file}`, import.meta.url), 'utf8')) as {
        cases: Array<{ valid?: boolean; body?: { model?: unknown } }>;
      };
      for (const c of doc.cases) {
        if (c.valid !== false && typeof c.body?.model === 'string' && c.body.model !== '')
          sent.add(c.body.model);
      }
    }
    expect([...sent].filter((m) => !ids.has(m))).toEqual([]);
  });
});
