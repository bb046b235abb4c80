/**
 * The gateway's only shared state lives in PostgreSQL. `Store` is the one small interface over it, implemented by
 * `pg` (production) and PGlite (embedded default, tests). Same SQL, same migrations.
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';

export interface QueryResult<T> {
  rows: T[];
}

export interface Queryable {
  /**
   * Runs one statement with `$1…` parameters. Without parameters the simple query protocol is used, so a script of
   * several statements (a migration) may be passed.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Store extends Queryable {
  /** Runs `fn` inside one transaction (BEGIN … COMMIT, ROLLBACK when `fn` throws). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Default embedded database directory, relative to the process's working directory. */
export const DEFAULT_PGLITE_DIR = '.ocg/data';

export type StoreLocation =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string | null /* null = in memory */ };

/**
 * Interprets a database URL: `postgres://…` / `postgresql://…`, `pglite:memory:`, `pglite:///abs/dir`,
 * `pglite:relative/dir` (against `cwd`); undefined → PGlite under `.ocg/data`.
 */
export function parseStoreUrl(url: string | undefined, cwd: string = process.cwd()): StoreLocation {
  if (url === undefined || url === '') return { kind: 'pglite', dataDir: resolve(cwd, DEFAULT_PGLITE_DIR) };
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url };
  if (url.startsWith('pglite:')) {
    const rest = url.slice('pglite:'.length);
    if (rest === 'memory:' || rest === 'memory' || rest === '') return { kind: 'pglite', dataDir: null };
    const path = rest.startsWith('//') ? decodeURIComponent(rest.slice(2)) : rest;
    return { kind: 'pglite', dataDir: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  throw new GatewayError('ERR_CONFIG_INVALID', 'database url: unsupported scheme (use postgres://, pglite:)');
}

export async function createStore(
  url: string | undefined,
  options: { logger: Logger; cwd?: string },
): Promise<Store> {
  const location = parseStoreUrl(url, options.cwd);
  if (location.kind === 'postgres') {
    const { createPgStore } = await import('./pg.ts');
    return createPgStore(location.url, options.logger);
  }
  if (location.dataDir) mkdirSync(location.dataDir, { recursive: true });
  const { createPgliteStore } = await import('./pglite.ts');
  return createPgliteStore(location.dataDir);
}
