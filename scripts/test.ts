#!/usr/bin/env node
/**
 * `npm test`: every suite (unit, integration on PGlite and on PostgreSQL, the conformance self-run) in one vitest run.
 *
 * PostgreSQL suites need a server. We look for one at `DATABASE_URL` or 127.0.0.1:5432 and hand it to the suites as
 * `OCG_TEST_DATABASE_URL` (each suite creates and drops its own database there). Without one they are skipped —
 * loudly — unless `OCG_REQUIRE_POSTGRES=1` (set by CI), where a missing server is a failure, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(import.meta.dirname, '..');
const candidate = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const requirePostgres = process.env.OCG_REQUIRE_POSTGRES === '1';

async function postgresAnswers(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const problem = await postgresAnswers(candidate);
const env: NodeJS.ProcessEnv = { ...process.env };
// The gateway reads DATABASE_URL as an override; tests choose their database explicitly instead.
delete env.DATABASE_URL;
if (problem === null) {
  env.OCG_TEST_DATABASE_URL = candidate;
  console.log(`PostgreSQL answers at ${redact(candidate)}: PostgreSQL suites will run.`);
} else if (requirePostgres) {
  console.error(`OCG_REQUIRE_POSTGRES=1 but PostgreSQL does not answer at ${redact(candidate)}: ${problem}`);
  process.exit(1);
} else {
  delete env.OCG_TEST_DATABASE_URL;
  const bar = '!'.repeat(78);
  console.warn(
    `\n${bar}\n!! PostgreSQL does not answer at ${redact(candidate)} (${problem}).\n` +
      `!! Every PostgreSQL suite is SKIPPED; PGlite suites still run.\n` +
      `!! Start a server or set DATABASE_URL to run them; CI sets OCG_REQUIRE_POSTGRES=1.\n${bar}\n`,
  );
}

mkdirSync(path.join(root, '.ocg'), { recursive: true });
const resultsFile = path.join(root, '.ocg', 'test-results.json');
const vitest = spawnSync(
  process.execPath,
  [
    path.join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${resultsFile}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, env, stdio: 'inherit' },
);

try {
  const r = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  // A closing line any CI log reader understands.
  console.log(
    `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
  );
} catch {
  console.error('vitest wrote no results file');
}
process.exit(vitest.status ?? 1);

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
