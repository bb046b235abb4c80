/**
 * Reports: the JSON report is checked against spec/schemas/conformance-report.schema.json before it is written,
 * and the console summary shows every case, the profiles, the seed and the command to reproduce.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSummary, type Report, validateReport, writeJsonReport } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'ocg-report-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const report: Report = {
  reportVersion: '0.1',
  kit: { name: '@ocg/conformance', version: '0.1.0' },
  gateway: { adapter: 'reference', baseUrl: 'http://127.0.0.1:1234' },
  seed: 42,
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:05.000Z',
  profiles: [{ name: 'core', result: 'fail', passed: 1, failed: 1, unsupported: 1 }],
  cases: [
    {
      id: 'inference/a',
      title: 'A',
      feature: 'inference',
      requirements: ['INFERENCE-1'],
      result: 'pass',
      durationMs: 12.3,
    },
    {
      id: 'inference/b',
      title: 'B',
      feature: 'inference',
      requirements: ['INFERENCE-2', 'INFERENCE-3'],
      result: 'fail',
      durationMs: 5000,
      message: 'the gateway buffers SSE',
      details: { any: 'thing' },
    },
    {
      id: 'discovery/c',
      title: 'C',
      feature: 'protocol-document',
      requirements: ['DISCOVERY-1'],
      result: 'unsupported',
      durationMs: 0,
    },
  ],
  summary: { passed: 1, failed: 1, unsupported: 1, errored: 0 },
};

describe('JSON report', () => {
  it('writes a valid report', async () => {
    const file = await writeJsonReport(report, dir);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(report);
  });

  it.each([
    ['an unknown case result', { ...report, cases: [{ ...report.cases[0], result: 'skipped' }] }],
    ['a bad requirement id', { ...report, cases: [{ ...report.cases[0], requirements: ['inference-1'] }] }],
    ['a missing seed', { ...report, seed: undefined }],
    ['an extra top-level field', { ...report, extra: 1 }],
  ])('refuses %s', async (_what, bad) => {
    expect(await validateReport(JSON.parse(JSON.stringify(bad)))).not.toEqual([]);
    await expect(writeJsonReport(bad as Report, dir)).rejects.toMatchObject({ code: 'ERR_REPORT_INVALID' });
  });
});

describe('console summary', () => {
  it('has one line per case, the profiles, the seed and the reproduce command', () => {
    const text = formatSummary(report, 'ocg-conformance run --adapter reference --seed 42');
    expect(text).toMatch(/✓ inference\/a\s+INFERENCE-1\s+12 ms/);
    expect(text).toMatch(/✗ inference\/b\s+INFERENCE-2, INFERENCE-3\s+5000 ms\n {4}the gateway buffers SSE/);
    expect(text).toMatch(/– discovery\/c\s+DISCOVERY-1/);
    expect(text).toMatch(/profile core: FAIL \(1 passed, 1 failed, 1 unsupported\)/);
    expect(text).toMatch(/seed 42/);
    expect(text).toMatch(/reproduce: ocg-conformance run --adapter reference --seed 42$/);
  });
});
