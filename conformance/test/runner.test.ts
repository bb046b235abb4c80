/**
 * The runner with fake cases and a fake adapter: results (pass, fail, error, unsupported, timeout), profile
 * results, feature selection (from the adapter or the gateway's ocg-configuration), case filtering, seeding,
 * what adapter contract v1 hands the adapter, prepare hooks, and the missing-bearer failure.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Requirement } from '@ocg/spec';
import { describe, expect, it } from 'vitest';
import type { Adapter, AdapterContext } from '../src/adapters/contract.ts';
import { fail } from '../src/errors.ts';
import { type ConformanceCase, runConformance } from '../src/index.ts';
import type { CaseResult } from '../src/report/types.ts';
import { profileResult } from '../src/runner/profiles.ts';

let stopped = 0;
const fake: Adapter = {
  name: 'fake',
  start: async () => ({
    baseUrl: 'http://127.0.0.1:9',
    bearer: 'fake-bearer',
    features: ['inference', 'count-tokens'],
    stop: async () => {
      stopped++;
    },
  }),
};

const seen: number[] = [];
const fakeCase = (
  id: string,
  feature: string,
  run: ConformanceCase['run'],
  timeoutMs = 2000,
): ConformanceCase => ({
  id,
  title: id,
  feature,
  requirements: ['INFERENCE-1'],
  timeoutMs,
  run,
});

const cases: ConformanceCase[] = [
  fakeCase('fake/passes', 'inference', async (ctx) => {
    seen.push(ctx.rng.int(1_000_000));
  }),
  fakeCase('fake/fails', 'inference', async () => fail('expected a thing')),
  fakeCase('fake/errors', 'count-tokens', async () => {
    throw new TypeError('kit bug');
  }),
  fakeCase('fake/hangs', 'inference', () => new Promise(() => {}), 200),
  fakeCase('fake/undeclared', 'protocol-document', async () => fail('must not run')),
  fakeCase('fake/health', 'health', async () => fail('not in core')),
];

describe('runConformance with fake cases', () => {
  it('reports pass, fail, error, timeout and unsupported, and runs only the selected profiles', async () => {
    const report = await runConformance({ adapter: fake, cases, seed: 99, outDir: null, keepWorkDir: false });
    const results = Object.fromEntries(report.cases.map((c) => [c.id, [c.result, c.message]]));
    expect(results).toEqual({
      'fake/passes': ['pass', undefined],
      'fake/fails': ['fail', 'expected a thing'],
      'fake/errors': ['error', 'TypeError: kit bug'],
      'fake/hangs': ['fail', 'the case did not finish within 200 ms'],
      'fake/undeclared': ['unsupported', 'the gateway does not declare feature "protocol-document"'],
    });
    expect(report.summary).toEqual({ passed: 1, failed: 2, unsupported: 1, errored: 1 });
    expect(report.profiles).toEqual([{ name: 'core', result: 'fail', passed: 1, failed: 3, unsupported: 1 }]);
    expect(report.seed).toBe(99);
    expect(stopped).toBe(1);
  });

  it('derives every case value from the seed', async () => {
    seen.length = 0;
    await runConformance({
      adapter: fake,
      cases,
      seed: 5,
      outDir: null,
      keepWorkDir: false,
      caseFilter: 'fake/passes',
    });
    await runConformance({
      adapter: fake,
      cases,
      seed: 5,
      outDir: null,
      keepWorkDir: false,
      caseFilter: 'fake/passes',
    });
    await runConformance({
      adapter: fake,
      cases,
      seed: 6,
      outDir: null,
      keepWorkDir: false,
      caseFilter: 'fake/passes',
    });
    expect(seen[0]).toBe(seen[1]);
    expect(seen[2]).not.toBe(seen[0]);
  });

  it('includes the extended profile features and filters cases by id prefix', async () => {
    const report = await runConformance({
      adapter: { ...fake, start: async (ctx) => ({ ...(await fake.start(ctx)), features: undefined }) },
      cases,
      profiles: ['operations'],
      caseFilter: ['fake/health', 'fake/pass'],
      outDir: null,
    });
    expect(report.cases.map((c) => [c.id, c.result])).toEqual([
      ['fake/passes', 'pass'],
      ['fake/health', 'fail'],
    ]);
  });

  it('refuses an unknown profile and an empty selection', async () => {
    await expect(
      runConformance({ adapter: fake, cases, profiles: ['nope'], outDir: null, keepWorkDir: false }),
    ).rejects.toMatchObject({
      code: 'ERR_USAGE',
    });
    await expect(
      runConformance({ adapter: fake, cases, caseFilter: 'zzz', outDir: null, keepWorkDir: false }),
    ).rejects.toMatchObject({
      code: 'ERR_USAGE',
    });
  });

  it('reports an adapter whose start() throws as ERR_ADAPTER_START', async () => {
    const broken: Adapter = {
      name: 'broken',
      start: async () => {
        throw new Error('cannot boot');
      },
    };
    await expect(
      runConformance({ adapter: broken, cases, outDir: null, keepWorkDir: false }),
    ).rejects.toMatchObject({
      code: 'ERR_ADAPTER_START',
      message: expect.stringContaining('cannot boot'),
    });
  });

  it('reports an adapter that returns a bad bearer as ERR_ADAPTER_START', async () => {
    const broken: Adapter = {
      name: 'badbearer',
      start: async () => ({ baseUrl: 'http://x', bearer: 42, stop: async () => {} }) as never,
    };
    await expect(
      runConformance({ adapter: broken, cases, outDir: null, keepWorkDir: false }),
    ).rejects.toMatchObject({
      code: 'ERR_ADAPTER_START',
    });
  });
});

/** A stand-in gateway that serves only `/.well-known/ocg-configuration`. */
async function describedGateway(features: string[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/ocg-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ protocol_version: '0.1.0', features }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('adapter contract v1 and the run around the cases', () => {
  it('reports the pass-through cases unsupported, never passed, for a gateway that declares neither surface', async () => {
    const report = await runConformance({
      adapter: fake,
      profiles: ['passthrough'],
      caseFilter: 'passthrough/',
      outDir: null,
      keepWorkDir: false,
    });
    expect(report.cases.length).toBeGreaterThanOrEqual(6);
    for (const c of report.cases) {
      expect([c.id, c.result, c.message]).toEqual([
        c.id,
        'unsupported',
        `the gateway does not declare feature "${c.feature}"`,
      ]);
    }
    expect(new Set(report.cases.map((c) => c.feature))).toEqual(
      new Set(['bedrock-passthrough', 'vertex-passthrough']),
    );
    expect(report.profiles).toEqual([
      { name: 'passthrough', result: 'partial', passed: 0, failed: 0, unsupported: report.cases.length },
    ]);
  });

  it('takes the declared features from /.well-known/ocg-configuration when the adapter lists none', async () => {
    const gw = await describedGateway(['inference']);
    try {
      const report = await runConformance({
        adapter: {
          name: 'described',
          start: async () => ({ baseUrl: gw.url, bearer: 'b', stop: async () => {} }),
        },
        cases: [
          fakeCase('fake/inference', 'inference', async () => {}),
          fakeCase('fake/count', 'count-tokens', async () => fail('must not run')),
          fakeCase('fake/self', 'ocg-configuration', async () => {}),
        ],
        outDir: null,
        keepWorkDir: false,
      });
      expect(report.cases.map((c) => [c.id, c.result])).toEqual([
        ['fake/inference', 'pass'],
        ['fake/count', 'unsupported'],
        ['fake/self', 'pass'],
      ]);
    } finally {
      await gw.close();
    }
  });

  it('hands the adapter the mock IdP, the policy fixture and the timing hints; cases see the registered client', async () => {
    let given: AdapterContext | undefined;
    const seenClients: string[] = [];
    const report = await runConformance({
      adapter: {
        name: 'v1',
        async start(ctx) {
          given = ctx;
          await ctx.mocks.idp.registerClient({
            redirectUris: ['http://127.0.0.1:9/oauth/callback'],
            clientId: 'gw-1',
          });
          return { ...(await fake.start(ctx)), features: ['inference'] };
        },
      },
      cases: [
        fakeCase('fake/idp', 'inference', async (ctx) => {
          seenClients.push(...ctx.idp.clients.map((c) => c.clientId));
          const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
          expect(ctx.idp.findUser(user.email)?.groups).toEqual([ctx.policy.groups.developers]);
          expect(ctx.gateway.bearer).toBe('fake-bearer');
        }),
      ],
      seed: 7,
      outDir: null,
      keepWorkDir: false,
    });
    expect(report.cases[0]?.result).toBe('pass');
    expect(seenClients).toEqual(['gw-1']);
    expect(given?.contractVersion).toBe(1);
    expect(given?.mocks.idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(given?.mocks.idp.scopes).toContain('groups');
    expect(given?.timing).toEqual({
      accessTokenTtlS: 60,
      clockToleranceS: 5,
      deviceCodeExpiresInS: 60,
      deviceCodeIntervalS: 1,
      routing: {
        firstTokenMs: 2000,
        idleMs: 2000,
        backoffBaseMs: 50,
        breakerFailureThreshold: 5,
        breakerCoolDownMs: 2000,
      },
    });
    expect(given?.mocks.anthropicB?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(given?.policy.routing?.targets.map((t) => t.mock)).toEqual(['anthropic', 'anthropicB']);
    const policy = given?.policy;
    expect(policy?.groups.developers).toMatch(/^ocg-developers-[0-9a-f]{6}$/);
    expect(policy?.policies.map((p) => p.name)).toEqual(['developers', 'restricted', 'empty-settings']);
    expect(policy?.adminGroups).toEqual({
      read: [policy?.groups.adminRead],
      write: [policy?.groups.adminWrite],
    });
  });

  it('runs every prepare hook before the first case and hands its value to the case', async () => {
    const order: string[] = [];
    const report = await runConformance({
      adapter: fake,
      cases: [
        fakeCase('fake/first', 'inference', async () => {
          order.push('run first');
        }),
        {
          ...fakeCase('fake/prepared', 'inference', async (ctx) => {
            order.push(`run prepared with ${String(ctx.prepared)}`);
          }),
          prepare: async () => {
            order.push('prepare');
            return 'the value';
          },
        },
        {
          ...fakeCase('fake/broken-prepare', 'inference', async () => {}),
          prepare: async () => fail('no clock'),
        },
      ],
      outDir: null,
      keepWorkDir: false,
    });
    expect(order).toEqual(['prepare', 'run first', 'run prepared with the value']);
    expect(report.cases.map((c) => [c.id, c.result, c.message])).toEqual([
      ['fake/first', 'pass', undefined],
      ['fake/prepared', 'pass', undefined],
      ['fake/broken-prepare', 'fail', 'no clock'],
    ]);
  });

  it('fails the cases that need a bearer when there is none, saying why', async () => {
    const report = await runConformance({
      adapter: {
        name: 'nobearer',
        start: async () => ({ baseUrl: 'http://127.0.0.1:9', features: ['inference'], stop: async () => {} }),
      },
      cases: [
        fakeCase('fake/bearer', 'inference', async (ctx) => {
          void ctx.gateway.bearer;
        }),
        fakeCase('fake/no-bearer', 'inference', async () => {}),
      ],
      outDir: null,
      keepWorkDir: false,
    });
    expect(report.cases.map((c) => [c.id, c.result])).toEqual([
      ['fake/bearer', 'fail'],
      ['fake/no-bearer', 'pass'],
    ]);
    expect(report.cases[0]?.message).toMatch(
      /no bearer for this case: the gateway declares no sign-in feature/,
    );
  });
});

describe('profile results', () => {
  const requirements: Requirement[] = [
    { id: 'A-1', level: 'MUST', feature: 'f', text: '' },
    { id: 'A-2', level: 'SHOULD', feature: 'f', text: '' },
    { id: 'A-3', level: 'MAY', feature: 'f', text: '' },
  ];
  const c = (result: CaseResult['result'], req: string): CaseResult => ({
    id: `x/${req}`,
    title: '',
    feature: 'f',
    requirements: [req],
    result,
    durationMs: 1,
  });
  const TABLE: Array<[string, { given: CaseResult[]; want: string }]> = [
    ['all pass', { given: [c('pass', 'A-1'), c('pass', 'A-3')], want: 'pass' }],
    ['a MUST case fails', { given: [c('fail', 'A-1'), c('pass', 'A-2')], want: 'fail' }],
    ['a MUST case errors', { given: [c('error', 'A-1')], want: 'fail' }],
    ['a SHOULD case fails', { given: [c('pass', 'A-1'), c('fail', 'A-2')], want: 'partial' }],
    ['a MAY case fails', { given: [c('fail', 'A-3')], want: 'partial' }],
    ['a case unsupported', { given: [c('pass', 'A-1'), c('unsupported', 'A-1')], want: 'partial' }],
    ['an unknown requirement fails', { given: [c('fail', 'Z-9')], want: 'fail' }],
  ];
  it.each(TABLE)('%s', (_name, { given, want }) => {
    expect(profileResult('p', given, requirements).result).toBe(want);
  });
});
