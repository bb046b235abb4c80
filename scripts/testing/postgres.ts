/**
 * Test-only helpers shared by every package's suites: a fresh PostgreSQL database per suite, and the list of
 * database backends integration suites run on. `npm test` (scripts/test.ts) sets `OCG_TEST_DATABASE_URL` when a
 * server answers; without it the PostgreSQL backend is skipped with the reason in the suite title.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.OCG_TEST_DATABASE_URL;

/** Creates an empty database next to `OCG_TEST_DATABASE_URL`; `drop()` removes it (even with open sessions). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!PG_URL) throw new Error('OCG_TEST_DATABASE_URL is not set');
  const name = `ocg_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The database backends every store/integration suite runs on. */
export const BACKENDS: Array<{ name: 'pglite' | 'postgres'; skip: string | false }> = [
  { name: 'pglite', skip: false },
  {
    name: 'postgres',
    skip: PG_URL
      ? false
      : 'OCG_TEST_DATABASE_URL is not set: PostgreSQL suites skipped (PGlite suites still run)',
  },
];
