/** `Store` over a `pg` connection pool (production). */
import pg from 'pg';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Queryable, QueryResult, Store } from './store.ts';

export function createPgStore(url: string, logger: Logger): Store {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection emits 'error' on the pool; unhandled, that would crash the process.
  pool.on('error', (err) => logger.warn('database connection error', { err }));

  const run = async <T>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<T>> => {
    const result = params && params.length > 0 ? await client.query(sql, params) : await client.query(sql);
    // A multi-statement script returns one result per statement; the last one is the interesting one.
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return { rows: (last?.rows ?? []) as T[] };
  };

  let closed = false;
  return {
    query: (sql, params) => run(pool, sql, params),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw new GatewayError('ERR_STORE_UNAVAILABLE', 'cannot connect to the database', { cause: err });
      }
      try {
        await client.query('BEGIN');
        const out = await fn({ query: (sql, params) => run(client, sql, params) });
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
