/**
 * Profiles and their results (after kubernetes-sigs/gateway-api `conformance/utils/suite/profiles.go`).
 *
 * A profile covers its own features and those of the profile it extends (transitively): `operations` extends
 * `core`, so running it also runs the core cases. The result of a profile is:
 * - `fail` when any of its cases that serves a MUST requirement failed or errored;
 * - `partial` when no MUST case failed but the profile is not fully met: a case is `unsupported` (the gateway does
 *   not declare its feature), or a case serving only SHOULD/MAY requirements failed or errored;
 * - `pass` when every case of the profile passed.
 * The CLI exits 0 only when every selected profile is `pass`.
 */
import type { Feature, Profile, Requirement } from '@ocg/spec';
import { ConformanceError } from '../errors.ts';
import type { CaseResult, ProfileResult, ProfileResultKind } from '../report/types.ts';

/** The feature ids a profile covers, including those of the profiles it extends. */
export function featuresOfProfile(profileId: string, profiles: Profile[], features: Feature[]): string[] {
  const chain: string[] = [];
  let current: string | undefined = profileId;
  while (current !== undefined) {
    if (chain.includes(current)) break;
    const profile = profiles.find((p) => p.id === current);
    if (!profile) {
      throw new ConformanceError(
        'ERR_USAGE',
        `unknown profile "${current}" (known: ${profiles.map((p) => p.id).join(', ')})`,
      );
    }
    chain.push(current);
    current = profile.extends;
  }
  return features.filter((f) => chain.includes(f.profile)).map((f) => f.id);
}

/** Computes one profile's result from the results of the cases it covers. */
export function profileResult(name: string, cases: CaseResult[], requirements: Requirement[]): ProfileResult {
  const level = (id: string) => requirements.find((r) => r.id === id)?.level;
  const passed = cases.filter((c) => c.result === 'pass').length;
  const broken = cases.filter((c) => c.result === 'fail' || c.result === 'error');
  const unsupported = cases.filter((c) => c.result === 'unsupported').length;
  let result: ProfileResultKind = 'pass';
  // A case with no known requirement counts as MUST: unknown must not soften a failure.
  if (
    broken.some(
      (c) => c.requirements.length === 0 || c.requirements.some((r) => (level(r) ?? 'MUST') === 'MUST'),
    )
  ) {
    result = 'fail';
  } else if (broken.length > 0 || unsupported > 0) {
    result = 'partial';
  }
  return { name, result, passed, failed: broken.length, unsupported };
}
