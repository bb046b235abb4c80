import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freeResultBase, runStamp } from './results.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function emptyDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ocg-bench-results-'));
  dirs.push(d);
  return d;
}

describe('bench result names', () => {
  it('stamps a run with its local start minute', () => {
    expect(runStamp(new Date(2026, 11, 4, 9, 5, 59))).toBe('2026-12-04T0905');
  });

  it.each([
    { name: 'nothing written yet', existing: [], expected: 'T-streams' },
    {
      name: 'an earlier run of the same minute',
      existing: ['T-streams.json', 'T-streams.md'],
      expected: 'T-streams-2',
    },
    { name: 'only its Markdown left', existing: ['T-streams.md'], expected: 'T-streams-2' },
    {
      name: 'two earlier runs',
      existing: ['T-streams.json', 'T-streams-2.json'],
      expected: 'T-streams-3',
    },
    {
      name: 'another benchmark of the same minute',
      existing: ['T-streams-bare.json'],
      expected: 'T-streams',
    },
  ])('never overwrites a recorded run: $name', ({ existing, expected }) => {
    const dir = emptyDir();
    for (const f of existing) writeFileSync(join(dir, f), '{}');
    expect(freeResultBase(dir, 'T-streams')).toBe(join(dir, expected));
  });
});
