/** The `ocg-gateway` CLI as a child process, the way the conformance kit runs it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV, send, startUpstream, type TestUpstream, testConfigYaml } from './helpers.ts';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<Run>((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
  return { child, done };
}

let upstream: TestUpstream;
let dir: string;
beforeAll(async () => {
  upstream = await startUpstream();
  dir = mkdtempSync(join(tmpdir(), 'ocg-main-'));
});
afterAll(async () => {
  await upstream?.close();
});

describe('ocg-gateway CLI', () => {
  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']).done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: ocg-gateway --config <file.yaml>');
  });

  it('exits 1 with one line when no config is given', async () => {
    const r = await run([]).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ocg-gateway: no configuration: pass --config <file.yaml> or set OCG_CONFIG\n');
  });

  it('exits 1 with one line (no stack trace) on an invalid config, without leaking secrets', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      testConfigYaml({ upstreamUrl: upstream.url }).replace('kind: anthropic', 'kind: nope'),
    );
    const r = await run(['--config', file], ENV).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/upstreams/0/kind: must be equal to one of the allowed values');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    for (const secret of Object.values(ENV)) expect(r.stderr + r.stdout).not.toContain(secret);
  });

  it('starts from OCG_CONFIG, logs "gateway listening" with its URL, serves, and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, testConfigYaml({ upstreamUrl: upstream.url }));
    const { child, done } = run([], { ...ENV, OCG_CONFIG: file });
    let stdout = '';
    const url = await new Promise<string>((resolveUrl, reject) => {
      child.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString();
        for (const line of stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.msg === 'gateway listening' && rec.url) resolveUrl(rec.url);
        }
      });
      child.on('exit', () => reject(new Error(`exited early: ${stdout}`)));
    });
    const ready = await send(`${url}/readyz`);
    expect(ready.status).toBe(200);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    for (const line of r.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    for (const secret of Object.values(ENV)) expect(r.stdout).not.toContain(secret);
  });

  it('DATABASE_URL overrides database.url', async () => {
    const file = join(dir, 'gateway-db.yaml');
    writeFileSync(file, testConfigYaml({ upstreamUrl: upstream.url }));
    const r = await run(['--config', file], { ...ENV, DATABASE_URL: 'mysql://nope' }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/database/url: must match pattern');
  });
});
