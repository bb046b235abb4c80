/**
 * The case registry: every case the kit ships, in the order they run.
 */
import { ConformanceError } from '../errors.ts';
import type { ConformanceCase } from './types.ts';

/** Checks ids are unique and well-formed, then returns the list. */
export function createRegistry(cases: ConformanceCase[]): ConformanceCase[] {
  const seen = new Set<string>();
  for (const c of cases) {
    if (!/^[a-z0-9-]+\/[a-z0-9-]+$/.test(c.id)) {
      throw new ConformanceError('ERR_USAGE', `case id "${c.id}" is not <area>/<name>`);
    }
    if (seen.has(c.id)) throw new ConformanceError('ERR_USAGE', `duplicate case id "${c.id}"`);
    seen.add(c.id);
  }
  return cases;
}

/** Keeps the cases whose id starts with one of `prefixes` (all when none given). */
export function filterCases(cases: ConformanceCase[], prefixes: string[] | undefined): ConformanceCase[] {
  if (!prefixes || prefixes.length === 0) return cases;
  return cases.filter((c) => prefixes.some((p) => c.id === p || c.id.startsWith(p)));
}
