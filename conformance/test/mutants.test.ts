/**
 * The kit against deliberately broken variants of the reference gateway (conformance/test/mutants/): each must
 * fail exactly the case aimed at it and pass every other one — a kit that misses a fault, or blames the wrong
 * case, fails here.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../src/index.ts';

const mutant = (name: string) => fileURLToPath(new URL(`./mutants/${name}.ts`, import.meta.url));

const TABLE: Array<[string, { want: string[] }]> = [
  ['buffers-sse', { want: ['inference/no-buffering'] }],
  ['leaks-client-credentials', { want: ['inference/credentials-replaced'] }],
  ['drops-request-id', { want: ['errors/request-id-header'] }],
  ['forwards-hop-by-hop', { want: ['inference/hop-by-hop-headers'] }],
  ['ignores-client-disconnect', { want: ['inference/client-disconnect'] }],
  ['answers-401-when-upstream-down', { want: ['errors/upstream-unreachable'] }],
];

describe('mutants are caught by exactly the case aimed at them', () => {
  it.each(TABLE)('%s', { timeout: 180_000 }, async (name, { want }) => {
    const report = await runConformance({
      adapter: mutant(name),
      profiles: ['core', 'operations'],
      seed: 20260101,
      outDir: null,
      keepWorkDir: false,
    });
    const failed = report.cases.filter((c) => c.result !== 'pass').map((c) => c.id);
    expect(
      failed,
      JSON.stringify(report.cases.filter((c) => c.result !== 'pass').map((c) => c.message)),
    ).toEqual(want);
    expect(report.cases.find((c) => c.id === want[0])?.result).toBe('fail');
    expect(report.profiles.find((p) => p.name === 'core')?.result).toBe('fail');
  });
});
