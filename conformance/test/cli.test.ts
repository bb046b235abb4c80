/**
 * The CLI's exit statuses: 0 when every selected profile passes, 1 when one does not, 2 for usage and adapter
 * errors — in process through `main()`, and once through the real bin.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';

let dir: string;
const tmp = process.env.TMPDIR;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocg-cli-'));
  // Failing runs keep their work directory for the logs: keep them under this test's directory.
  process.env.TMPDIR = dir;
  await writeFile(
    join(dir, 'throws.mjs'),
    "export default { name: 'throws', async start() { throw new Error('no gateway here'); } };",
  );
});
afterAll(async () => {
  if (tmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmp;
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
  return { code, out, err };
}

describe('ocg-conformance exit statuses', () => {
  it.each([
    ['--help', ['--help'], 0, /Usage: ocg-conformance run/],
    ['no command', [], 2, /missing command/],
    ['an unknown command', ['walk'], 2, /unknown command "walk"/],
    ['no --adapter', ['run'], 2, /--adapter is required/],
    ['an unknown option', ['run', '--adapter', 'reference', '--colour'], 2, /Unknown option '--colour'/],
    ['a bad seed', ['run', '--adapter', 'reference', '--seed', 'abc'], 2, /--seed must be an integer/],
    [
      'a missing adapter file',
      ['run', '--adapter', '/nonexistent/adapter.ts'],
      2,
      /ERR_ADAPTER_INVALID: .*no such file/,
    ],
    [
      'an unknown profile',
      ['run', '--adapter', 'reference', '--profile', 'gold'],
      2,
      /unknown profile "gold"/,
    ],
  ])('%s → %i', async (_what, args, code, message) => {
    const r = await run(args);
    expect(r.code).toBe(code);
    expect(code === 0 ? r.out : r.err).toMatch(message);
  });

  it('an adapter whose start() fails → 2', async () => {
    const r = await run(['run', '--adapter', join(dir, 'throws.mjs'), '--out', dir, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ERR_ADAPTER_START: .*no gateway here/);
  });

  it('a failing case → 1, with the failure, the seed and the command to reproduce', {
    timeout: 120_000,
  }, async () => {
    const mutant = fileURLToPath(new URL('./mutants/drops-request-id.ts', import.meta.url));
    const r = await run([
      'run',
      '--adapter',
      mutant,
      '--case',
      'errors/request-id',
      '--seed',
      '17',
      '--out',
      dir,
      '--quiet',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/✗ errors\/request-id-header\s+ERRORS-2/);
    expect(r.out).toMatch(/has no request-id header/);
    expect(r.out).toMatch(/profile core: FAIL/);
    expect(r.out).toMatch(/seed 17/);
    expect(r.out).toContain(
      `reproduce: ocg-conformance run --adapter ${mutant} --profile core --seed 17 --case errors/request-id`,
    );
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
    expect(report.seed).toBe(17);
    expect(report.reproduce).toBe(
      `ocg-conformance run --adapter ${mutant} --profile core --seed 17 --case errors/request-id`,
    );
  });

  it('the bin runs on Node with a passing selection → 0', { timeout: 120_000 }, async () => {
    const bin = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, 'run', '--adapter', 'reference', '--case', 'discovery/', '--out', dir, '--quiet'],
      { encoding: 'utf8' },
    );
    expect(stdout).toMatch(/✓ discovery\/protocol-document/);
    expect(stdout).toMatch(/profile core: PASS/);
  });
});
