/**
 * Which policy applies to a principal: the one precedence rule of POLICY-*.
 *
 * **Rule.** The policy that applies is the FIRST policy, in config order, of the MOST SPECIFIC tier with a match:
 *
 * 1. `users` — an entry equals the principal's email (case-insensitive) or its subject (exact);
 * 2. `groups` — an entry equals one of the principal's groups (exact);
 * 3. `emailDomains` — an entry equals the domain of the principal's email, i.e. the part after the last `@`
 *    (case-insensitive, exact: `sub.example.com` does not match `example.com`);
 * 4. `everyone: true`.
 *
 * A policy whose `match` has several criteria sits in the most specific tier that matches this principal. Policies
 * never merge: the chosen policy's managed settings and allowlist are the whole answer, so an auditor can read one
 * policy and know what a user gets. No match → `null` (404 from `/managed/settings`, no models).
 */
import type { PolicyConfig } from './config.ts';

/** The parts of an authenticated principal that policy matching reads (structurally a subset of `Principal`). */
export interface PolicyPrincipal {
  subject: string;
  email: string | null;
  groups: readonly string[];
}

/** Precedence tiers, most specific first. */
export const POLICY_TIERS = ['user', 'group', 'emailDomain', 'everyone'] as const;
export type PolicyTier = (typeof POLICY_TIERS)[number];

/** Why a policy applies: which one, at which tier, and its index in the config (for logs and audit records). */
export interface PolicyMatchResult<P extends PolicyConfig = PolicyConfig> {
  policy: P;
  tier: PolicyTier;
  index: number;
}

/**
 * The policy that applies to `principal`, with the tier and config index that selected it, or `null`.
 *
 * @example
 * resolvePolicyMatch(config.policies, { subject: 'u1', email: 'Ann@Example.com', groups: ['eng'] });
 * // → { policy: <first policy listing ann@example.com, else first for group eng, …>, tier: 'user', index: 2 }
 */
export function resolvePolicyMatch<P extends PolicyConfig>(
  policies: readonly P[],
  principal: PolicyPrincipal,
): PolicyMatchResult<P> | null {
  for (const tier of POLICY_TIERS) {
    const index = policies.findIndex((policy) => matchesAtTier(policy, tier, principal));
    if (index !== -1) return { policy: policies[index] as P, tier, index };
  }
  return null;
}

/** The policy that applies to `principal` (see the rule above), or `null` when none matches. */
export function resolvePolicy<P extends PolicyConfig>(
  policies: readonly P[],
  principal: PolicyPrincipal,
): P | null {
  return resolvePolicyMatch(policies, principal)?.policy ?? null;
}

function matchesAtTier(policy: PolicyConfig, tier: PolicyTier, principal: PolicyPrincipal): boolean {
  const match = policy.match;
  switch (tier) {
    case 'user': {
      const email = principal.email?.toLowerCase();
      return (match.users ?? []).some(
        (entry) => entry === principal.subject || (email !== undefined && entry.toLowerCase() === email),
      );
    }
    case 'group':
      return (match.groups ?? []).some((group) => principal.groups.includes(group));
    case 'emailDomain': {
      const domain = emailDomain(principal.email);
      return domain !== null && (match.emailDomains ?? []).some((d) => d.toLowerCase() === domain);
    }
    case 'everyone':
      return match.everyone === true;
  }
}

/** Lower-cased part after the last `@`, or `null` for a missing or malformed email. */
function emailDomain(email: string | null): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return null;
  return email.slice(at + 1).toLowerCase();
}
