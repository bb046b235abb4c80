/**
 * The runner with fake cases and a fake adapter: results (pass, fail, error, unsupported, timeout), profile
 * results, feature selection, case filtering, seeding.
 */
import type { Requirement } from '@ocg/spec';
import { describe, expect, it } from 'vitest';
import type { Adapter } from '../src/adapters/contract.ts';
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

  it('reports an adapter that returns no bearer as ERR_ADAPTER_START', async () => {
    const broken: Adapter = {
      name: 'nobearer',
      start: async () => ({ baseUrl: 'http://x', stop: async () => {} }) as never,
    };
    await expect(
      runConformance({ adapter: broken, cases, outDir: null, keepWorkDir: false }),
    ).rejects.toMatchObject({
      code: 'ERR_ADAPTER_START',
    });
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
