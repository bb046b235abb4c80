/** `Store` over PGlite (PostgreSQL in WASM): the embedded default and the test database. */
import { PGlite } from '@electric-sql/pglite';
import type { Queryable, QueryResult, Store } from './store.ts';

interface PgliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<Array<{ rows: unknown[] }>>;
}

async function run<T>(db: PgliteLike, sql: string, params?: unknown[]): Promise<QueryResult<T>> {
  if (params && params.length > 0) return { rows: (await db.query<T>(sql, params)).rows };
  // Simple protocol: allows multi-statement scripts, like pg without parameters.
  const results = await db.exec(sql);
  return { rows: (results[results.length - 1]?.rows ?? []) as T[] };
}

/** `dataDir` null = in memory. */
export async function createPgliteStore(dataDir: string | null): Promise<Store> {
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  let closed = false;
  return {
    query: (sql, params) => run(db, sql, params),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn({ query: (sql, params) => run(tx, sql, params) }));
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
