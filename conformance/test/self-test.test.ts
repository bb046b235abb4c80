/**
 * The kit against the reference gateway, started through the built-in adapter, on each database backend: every
 * case of every profile passes, and the report written to disk matches the report schema. The backends run
 * concurrently: most of a run is `session/expiry` waiting about a minute for a device code and an access token to
 * expire.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createValidators } from '@ocg/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase } from '../../scripts/testing/postgres.ts';
import { createReferenceAdapter, runConformance } from '../src/index.ts';

const outDir = await mkdtemp(join(tmpdir(), 'ocg-conformance-self-test-'));
afterAll(() => rm(outDir, { recursive: true, force: true }));

describe('the kit against the reference gateway', () => {
  it.concurrent.for(BACKENDS)(
    'passes every case of the core, operations, admin, routing and passthrough profiles on $name',
    { timeout: 180_000 },
    async ({ name, skip }, test) => {
      if (skip) test.skip(skip);
      const db = name === 'postgres' ? await createTestDatabase() : null;
      try {
        const adapter = createReferenceAdapter(db ? { databaseUrl: db.url } : {});
        const out = join(outDir, name);
        const report = await runConformance({
          adapter,
          profiles: ['core', 'operations', 'admin', 'routing', 'passthrough'],
          outDir: out,
        });
        const notPassing = report.cases
          .filter((c) => c.result !== 'pass')
          .map((c) => `${c.id}: ${c.result}: ${c.message}`);
        expect(notPassing, `seed ${report.seed}`).toEqual([]);
        expect(report.profiles.map((p) => [p.name, p.result])).toEqual([
          ['core', 'pass'],
          ['operations', 'pass'],
          ['admin', 'pass'],
          ['routing', 'pass'],
          ['passthrough', 'pass'],
        ]);
        expect(report.cases.length).toBeGreaterThanOrEqual(19);
        const written = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
        expect((await createValidators()).validateReport(written)).toEqual([]);
        expect(written.seed).toBe(report.seed);
      } finally {
        await db?.drop();
      }
    },
  );
});
