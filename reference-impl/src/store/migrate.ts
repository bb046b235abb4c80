/**
 * Plain-SQL migrations (`migrations/NNNN_name.sql`), applied at boot in version order inside one transaction that
 * holds a transaction-scoped advisory lock, so any number of replicas can boot at once and each migration runs once.
 * Applied migrations are recorded in `ocg_schema_migrations` with a SHA-256 checksum; editing an applied file is a
 * boot error (write a new migration instead).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Queryable, Store } from './store.ts';

/** Key of the advisory lock held while migrating: the bytes of "ocgmigr" read as a big-endian integer. */
export const MIGRATION_LOCK_KEY = '31353018283288434';

export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE.exec(file);
    if (!m) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    migrations.push({
      version: Number(m[1]),
      name: m[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version) {
      throw new GatewayError(
        'ERR_MIGRATION_FAILED',
        `two migrations share version ${migrations[i]?.version}`,
      );
    }
  }
  return migrations;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedMigrations(q: Queryable): Promise<AppliedRow[]> {
  const exists = await q.query<{ t: string | null }>(
    "SELECT to_regclass('ocg_schema_migrations')::text AS t",
    [],
  );
  if (!exists.rows[0]?.t) return [];
  return (
    await q.query<AppliedRow>(
      'SELECT version, name, checksum FROM ocg_schema_migrations ORDER BY version',
      [],
    )
  ).rows;
}

/** Applies pending migrations; returns the versions applied by this call. */
export async function migrate(
  store: Store,
  options: { logger: Logger; migrations?: Migration[] },
): Promise<number[]> {
  const migrations = options.migrations ?? loadMigrations();
  return store.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    const applied = new Map((await appliedMigrations(tx)).map((r) => [Number(r.version), r]));
    for (const m of migrations) {
      const row = applied.get(m.version);
      if (row && row.checksum !== m.checksum) {
        throw new GatewayError(
          'ERR_MIGRATION_CHECKSUM',
          `migration ${String(m.version).padStart(4, '0')}_${m.name} was changed after it was applied (checksum mismatch); add a new migration instead`,
        );
      }
    }
    const known = new Set(migrations.map((m) => m.version));
    for (const v of applied.keys()) {
      if (!known.has(v))
        options.logger.warn('database has a migration this gateway does not know', { version: v });
    }
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      try {
        await tx.query(m.sql);
      } catch (err) {
        throw new GatewayError(
          'ERR_MIGRATION_FAILED',
          `migration ${String(m.version).padStart(4, '0')}_${m.name} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await tx.query('INSERT INTO ocg_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      done.push(m.version);
      options.logger.info('migration applied', { version: m.version, name: m.name });
    }
    return done;
  });
}

/** True when every known migration is recorded as applied (readiness). */
export async function migrationsApplied(store: Queryable, migrations: Migration[]): Promise<boolean> {
  const applied = new Set((await appliedMigrations(store)).map((r) => Number(r.version)));
  return migrations.every((m) => applied.has(m.version));
}
