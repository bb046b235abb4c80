/**
 * The kit against the reference gateway, started through the built-in `reference` adapter: every case of every
 * profile passes, and the report written to disk matches the report schema.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidators } from '@ocg/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformance } from '../src/index.ts';

const outDir = await mkdtemp(join(tmpdir(), 'ocg-conformance-self-test-'));
afterAll(() => rm(outDir, { recursive: true, force: true }));

describe('the kit against the reference gateway', () => {
  it('passes every case of the core and operations profiles', { timeout: 180_000 }, async () => {
    const report = await runConformance({ adapter: 'reference', profiles: ['core', 'operations'], outDir });
    const notPassing = report.cases
      .filter((c) => c.result !== 'pass')
      .map((c) => `${c.id}: ${c.result}: ${c.message}`);
    expect(notPassing, `seed ${report.seed}`).toEqual([]);
    expect(report.profiles.map((p) => [p.name, p.result])).toEqual([
      ['core', 'pass'],
      ['operations', 'pass'],
    ]);
    expect(report.cases.length).toBeGreaterThanOrEqual(19);
    const written = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8'));
    expect((await createValidators()).validateReport(written)).toEqual([]);
    expect(written.seed).toBe(report.seed);
  });
});
