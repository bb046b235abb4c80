/**
 * Bootstrap of the first admin (ADMIN-2): `node reference-impl/src/admin/create-key.ts --config … --name … --scope …`
 * creates a key in the gateway's database, prints it once on stdout (nothing else there), names it on stderr
 * without the secret, stores only its hash; bad arguments exit 1 with a message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAdminApiKeys } from '../src/admin/api-keys.ts';
import { silentLogger } from '../src/log/logger.ts';
import { sha256Hex } from '../src/session/util.ts';
import { createStore } from '../src/store/store.ts';
import { ENV, testConfigYaml } from './helpers.ts';

const SCRIPT = resolve(import.meta.dirname, '../src/admin/create-key.ts');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? '', ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('admin create-key CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocg-create-key-'));
  const dataDir = join(dir, 'data');
  const config = join(dir, 'gateway.yaml');
  writeFileSync(
    config,
    testConfigYaml({ upstreamUrl: 'http://127.0.0.1:9', databaseUrl: `pglite://${dataDir}` }),
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the key once on stdout and stores only its hash', async () => {
    const r = await run(['--config', config, '--name', 'bootstrap', '--scope', 'write']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ocg_admin_[A-Za-z0-9_-]{43}\n$/);
    const key = r.stdout.trim();
    expect(r.stderr).toMatch(/Created admin API key akey_\S+ \(name "bootstrap", scope write\)/);
    expect(r.stderr).toMatch(/shown only this once/);
    expect(r.stderr).not.toContain(key.slice('ocg_admin_'.length));

    const store = await createStore(`pglite://${dataDir}`, { logger: silentLogger });
    try {
      const rows = (await store.query('SELECT * FROM admin_api_keys')).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        name: 'bootstrap',
        scope: 'write',
        created_by: 'cli',
        secret_hash: sha256Hex(key),
      });
      expect(JSON.stringify(rows)).not.toContain(key.slice('ocg_admin_'.length));
      const record = await createAdminApiKeys(store).authenticate(key);
      expect(record?.scope).toBe('write');
    } finally {
      await store.close();
    }
  });

  it.each([
    [['--config', config, '--name', 'x', '--scope', 'admin'], /scope must be 'read' or 'write'/],
    [['--config', config, '--scope', 'read'], /name must be a non-empty string/],
    [['--name', 'x', '--scope', 'read'], /--config is required/],
    [['--config', join(dir, 'missing.yaml'), '--name', 'x', '--scope', 'read'], /cannot read config file/],
    [['--config', config, '--name', 'x', '--scope', 'read', '--bogus'], /Unknown option/],
  ])('%j → exit 1 with a message, nothing on stdout', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });
});
