/** Where a benchmark run's result files go: named by the minute it started, never over an earlier run's files. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** `YYYY-MM-DDTHHMM` in local time: the name every recorded run carries. */
export function runStamp(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}${pad(now.getMinutes())}`;
}

/**
 * `<dir>/<name>` for the run's `.json` and `.md`, or `<dir>/<name>-2`, `-3` … when a run that started in the same
 * minute already wrote that name: two short runs back to back must both be kept, not the second over the first.
 */
export function freeResultBase(dir: string, name: string): string {
  const taken = (base: string) => existsSync(`${base}.json`) || existsSync(`${base}.md`);
  let base = join(dir, name);
  for (let n = 2; taken(base); n++) base = join(dir, `${name}-${n}`);
  return base;
}
