/**
 * Bootstrap of the first admin (ADMIN-2): `node reference-impl/src/admin/create-key.ts --config … --name … --scope …`
 * creates a key in the gateway's database, prints it once on stdout (nothing else there), names it on stderr
 * without the secret, stores only its hash, and the gateway booted on that database accepts it; bad arguments exit
 * 1 with a message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockIdp, startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { createAdminApiKeys } from '../src/admin/api-keys.ts';
import { parseConfig } from '../src/config/load.ts';
import { startGateway } from '../src/gateway.ts';
import { silentLogger } from '../src/log/logger.ts';
import { sha256Hex } from '../src/session/util.ts';
import { createStore } from '../src/store/store.ts';
import { captureLogger, ENV, send } from './helpers.ts';

const SCRIPT = resolve(import.meta.dirname, '../src/admin/create-key.ts');
const KEK = Buffer.alloc(32, 77).toString('base64url');
let env: Record<string, string> = { ...ENV, OCG_KEK: KEK };

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
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
  let idp: MockIdp;
  let yaml: string;
  beforeAll(async () => {
    idp = await startMockIdp({ seed: 4242 });
    const client = await idp.registerClient({
      redirectUris: ['http://127.0.0.1/oauth/callback'],
      applicationType: 'native',
    });
    env = { ...env, OCG_OIDC_SECRET: client.clientSecret ?? '' };
    yaml = `
server: { host: 127.0.0.1, port: 0 }
database: { url: "pglite://${dataDir}" }
auth:
  keyEncryptionKey: \${env:OCG_KEK}
  oidc:
    issuer: ${idp.issuer}
    clientId: ${client.clientId}
    clientSecret: \${env:OCG_OIDC_SECRET}
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: http://127.0.0.1:9
    apiKey: \${env:ANTHROPIC_API_KEY}
`;
    writeFileSync(config, yaml);
  });
  afterAll(async () => {
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the key once on stdout, stores only its hash, and the gateway accepts it', async () => {
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

    // The gateway booted on that database accepts the key on the admin API.
    const log = captureLogger([]);
    const gateway = await startGateway(parseConfig(yaml, env), { logger: log.logger });
    try {
      const me = await send(`${gateway.url}/v1/admin/me`, { headers: { 'x-api-key': key } });
      expect(me.status).toBe(200);
      expect(JSON.parse(me.body)).toMatchObject({ kind: 'api_key', scopes: ['read', 'write'] });
      const created = await send(`${gateway.url}/v1/admin/api_keys`, {
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'second', scope: 'read' }),
      });
      expect(created.status).toBe(201);
      expect(log.lines.join('\n')).not.toContain(key.slice('ocg_admin_'.length));
    } finally {
      await gateway.close();
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
