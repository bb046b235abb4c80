/**
 * Store, migrations and the inference record, on PGlite (always) and PostgreSQL (when OCG_TEST_DATABASE_URL is set).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import type { Gateway } from '../src/gateway.ts';
import { silentLogger } from '../src/log/logger.ts';
import { loadMigrations, type Migration, migrate, migrationsApplied } from '../src/store/migrate.ts';
import { createStore, parseStoreUrl, type Store } from '../src/store/store.ts';
import {
  BACKENDS,
  createTestDatabase,
  JSON_HEADERS,
  send,
  startTestGateway,
  startUpstream,
  type TestUpstream,
  TOKEN,
  VALID_BODY,
} from './helpers.ts';

describe('parseStoreUrl', () => {
  const cases: Array<[given: string | undefined, want: ReturnType<typeof parseStoreUrl>]> = [
    [undefined, { kind: 'pglite', dataDir: '/srv/app/.ocg/data' }],
    ['pglite:memory:', { kind: 'pglite', dataDir: null }],
    ['pglite:///var/lib/ocg', { kind: 'pglite', dataDir: '/var/lib/ocg' }],
    ['pglite:data/db', { kind: 'pglite', dataDir: '/srv/app/data/db' }],
    ['postgres://u@h:5432/d', { kind: 'postgres', url: 'postgres://u@h:5432/d' }],
    ['postgresql://u@h/d', { kind: 'postgres', url: 'postgresql://u@h/d' }],
  ];
  it.each(cases)('%s', (given, want) => {
    expect(parseStoreUrl(given, '/srv/app')).toEqual(want);
  });
});

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `store and migrations on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      // One database per backend for the whole suite (an in-memory PGlite lives and dies with its store).
      let shared: Store;
      let drop: () => Promise<void> = async () => {};
      const open = async () => shared;

      beforeAll(async () => {
        let url = 'pglite:memory:';
        if (backend.name === 'postgres') ({ url, drop } = await createTestDatabase());
        shared = await createStore(url, { logger: silentLogger });
      });
      afterAll(async () => {
        await shared?.close();
        await drop();
      });

      it('applies the migrations once and records them', async () => {
        const store = await open();
        const migrations = loadMigrations();
        expect(migrations.map((m) => `${m.version}_${m.name}`)).toContain('1_init');
        expect(await migrate(store, { logger: silentLogger })).toEqual(migrations.map((m) => m.version));
        expect(await migrate(store, { logger: silentLogger })).toEqual([]);
        expect(await migrationsApplied(store, migrations)).toBe(true);
        const rows = await store.query<{ version: number; name: string; checksum: string }>(
          'SELECT version, name, checksum FROM ocg_schema_migrations ORDER BY version',
        );
        expect(rows.rows.map((r) => [r.version, r.name, r.checksum])).toEqual(
          migrations.map((m) => [m.version, m.name, m.checksum]),
        );
      });

      it('refuses to boot when an applied migration was edited', async () => {
        const store = await open();
        const edited: Migration[] = loadMigrations().map((m) => ({ ...m, checksum: `${m.checksum}x` }));
        await expect(migrate(store, { logger: silentLogger, migrations: edited })).rejects.toMatchObject({
          code: 'ERR_MIGRATION_CHECKSUM',
        });
        await expect(migrate(store, { logger: silentLogger, migrations: edited })).rejects.toBeInstanceOf(
          GatewayError,
        );
      });

      it('rolls a failing migration back entirely', async () => {
        const store = await open();
        const broken: Migration[] = [
          ...loadMigrations(),
          { version: 9998, name: 'ok_part', sql: 'CREATE TABLE t9998 (x int)', checksum: 'a' },
          {
            version: 9999,
            name: 'broken',
            sql: 'CREATE TABLE t9999 (x int); SELECT nope FROM nowhere',
            checksum: 'b',
          },
        ];
        await expect(migrate(store, { logger: silentLogger, migrations: broken })).rejects.toMatchObject({
          code: 'ERR_MIGRATION_FAILED',
        });
        const t = await store.query<{ t: string | null }>("SELECT to_regclass('t9998')::text AS t");
        expect(t.rows[0]?.t).toBeNull();
        expect(await migrationsApplied(store, broken)).toBe(false);
      });

      it('transactions commit and roll back', async () => {
        const store = await open();
        await store.query('CREATE TABLE IF NOT EXISTS tx_test (x int)');
        await store.transaction(async (tx) => {
          await tx.query('INSERT INTO tx_test VALUES ($1)', [1]);
        });
        await expect(
          store.transaction(async (tx) => {
            await tx.query('INSERT INTO tx_test VALUES ($1)', [2]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        const rows = await store.query<{ x: number }>('SELECT x FROM tx_test ORDER BY x');
        expect(rows.rows).toEqual([{ x: 1 }]);
      });
    },
  );
}

describe.skipIf(BACKENDS[1]?.skip)(
  `concurrent migration on PostgreSQL${BACKENDS[1]?.skip ? ` (${BACKENDS[1]?.skip})` : ''}`,
  () => {
    it('two stores migrating the same fresh database at once both succeed, the migration runs once', async () => {
      const db = await createTestDatabase();
      const a = await createStore(db.url, { logger: silentLogger });
      const b = await createStore(db.url, { logger: silentLogger });
      try {
        const [ra, rb] = await Promise.all([
          migrate(a, { logger: silentLogger }),
          migrate(b, { logger: silentLogger }),
        ]);
        const versions = loadMigrations().map((m) => m.version);
        expect([...ra, ...rb].sort()).toEqual(versions);
        expect([ra.length, rb.length].sort()).toEqual([0, versions.length]);
        const rows = await a.query<{ n: string }>('SELECT count(*)::text AS n FROM ocg_schema_migrations');
        expect(rows.rows[0]?.n).toBe(String(versions.length));
      } finally {
        await a.close();
        await b.close();
        await db.drop();
      }
    });
  },
);

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `gateway on ${backend.name}: records and readiness${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      let upstream: TestUpstream;
      let gateway: Gateway;
      let drop: () => Promise<void> = async () => {};

      beforeAll(async () => {
        upstream = await startUpstream();
        let databaseUrl = 'pglite:memory:';
        if (backend.name === 'postgres') {
          const db = await createTestDatabase();
          databaseUrl = db.url;
          drop = db.drop;
        }
        ({ gateway } = await startTestGateway({ upstreamUrl: upstream.url, databaseUrl }));
      });
      afterAll(async () => {
        await gateway?.close();
        await upstream?.close();
        await drop();
      });

      interface Row {
        request_id: string;
        subject: string | null;
        model: string | null;
        stream: boolean | null;
        upstream: string | null;
        status: number;
        error_type: string | null;
        duration_ms: number;
        input_tokens: number | null;
        output_tokens: number | null;
      }
      const rowFor = async (id: string): Promise<Row | undefined> => {
        let row: Row | undefined;
        for (let i = 0; i < 100 && !row; i++) {
          row = (
            await gateway.store.query<Row>('SELECT * FROM inference_requests WHERE request_id = $1', [id])
          ).rows[0];
          if (!row) await new Promise((r) => setTimeout(r, 20));
        }
        return row;
      };

      it('answers /readyz 200 when the database is reachable and migrated', async () => {
        const r = await send(`${gateway.url}/readyz`);
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body)).toEqual({ status: 'ready' });
      });

      it('records a streamed request with its usage', async () => {
        const r = await send(`${gateway.url}/v1/messages`, {
          headers: JSON_HEADERS,
          body: JSON.stringify({ ...JSON.parse(VALID_BODY), stream: true }),
        });
        expect(r.status).toBe(200);
        const row = await rowFor(r.headers['request-id'] as string);
        expect(row).toMatchObject({
          subject: 'dev-user',
          model: 'claude-test-1',
          stream: true,
          upstream: 'anthropic',
          status: 200,
          error_type: null,
          input_tokens: 450,
          output_tokens: 53,
        });
        expect(row?.duration_ms).toBeGreaterThanOrEqual(0);
      });

      it('records a non-streamed request with its usage', async () => {
        const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
        const row = await rowFor(r.headers['request-id'] as string);
        expect(row).toMatchObject({ stream: false, status: 200, input_tokens: 25, output_tokens: 12 });
      });

      const refused: Array<
        [name: string, headers: Record<string, string>, body: string, status: number, subject: string | null]
      > = [
        ['unauthenticated', { 'content-type': 'application/json' }, VALID_BODY, 401, null],
        ['invalid body', { authorization: `Bearer ${TOKEN}` }, '{"model":1}', 400, 'dev-user'],
      ];
      it.each(refused)('records a refused request (%s)', async (_name, headers, body, status, subject) => {
        const r = await send(`${gateway.url}/v1/messages`, { headers, body });
        expect(r.status).toBe(status);
        const row = await rowFor(r.headers['request-id'] as string);
        expect(row).toMatchObject({ status, subject, input_tokens: null });
        expect(row?.error_type).toBe(status === 401 ? 'authentication_error' : 'invalid_request_error');
      });

      it('does not record health probes', async () => {
        const r = await send(`${gateway.url}/healthz`);
        expect(r.status).toBe(200);
        await new Promise((res) => setTimeout(res, 100));
        const rows = await gateway.store.query('SELECT 1 FROM inference_requests WHERE request_id = $1', [
          r.headers['request-id'],
        ]);
        expect(rows.rows).toHaveLength(0);
      });
    },
  );
}

describe.skipIf(BACKENDS[1]?.skip)(
  `readiness without a database${BACKENDS[1]?.skip ? ` (${BACKENDS[1]?.skip})` : ''}`,
  () => {
    it('answers /readyz 503 when the database goes away', async () => {
      const upstream = await startUpstream();
      const db = await createTestDatabase();
      const { gateway } = await startTestGateway({ upstreamUrl: upstream.url, databaseUrl: db.url });
      try {
        expect((await send(`${gateway.url}/readyz`)).status).toBe(200);
        await db.drop(); // terminates the gateway's connections and removes the database
        const r = await send(`${gateway.url}/readyz`);
        expect(r.status).toBe(503);
        expect(JSON.parse(r.body)).toMatchObject({ status: 'not_ready', reason: expect.any(String) });
        expect((await send(`${gateway.url}/healthz`)).status).toBe(200);
      } finally {
        await gateway.close();
        await upstream.close();
      }
    });
  },
);

describe('readiness on PGlite', () => {
  it('answers /readyz 503 once the database is gone, while /healthz stays 200', async () => {
    const upstream = await startUpstream();
    const { gateway } = await startTestGateway({ upstreamUrl: upstream.url });
    try {
      expect((await send(`${gateway.url}/readyz`)).status).toBe(200);
      await gateway.store.close();
      const r = await send(`${gateway.url}/readyz`);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ status: 'not_ready', reason: 'database unreachable' });
      expect((await send(`${gateway.url}/healthz`)).status).toBe(200);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
