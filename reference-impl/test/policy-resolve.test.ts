/**
 * POLICY-* precedence: the FIRST policy, in config order, of the MOST SPECIFIC matching tier
 * (users > groups > emailDomains > everyone); no merging; no match → null. One case per branch.
 */
import { describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../src/policy/config.ts';
import {
  type PolicyPrincipal,
  type PolicyTier,
  resolvePolicy,
  resolvePolicyMatch,
} from '../src/policy/resolve.ts';

// Listed least specific first on purpose: config order only decides within a tier.
const POLICIES: PolicyConfig[] = [
  { name: 'everyone', match: { everyone: true }, models: ['*'] },
  { name: 'example-domain', match: { emailDomains: ['Example.COM'] }, models: [] },
  { name: 'example-domain-too', match: { emailDomains: ['example.com', 'example.org'] }, models: [] },
  { name: 'eng', match: { groups: ['eng'] }, models: [] },
  { name: 'eng-or-ops', match: { groups: ['eng', 'ops'] }, models: [] },
  { name: 'ann', match: { users: ['Ann@Example.com'] }, models: [] },
  { name: 'bob-by-subject', match: { users: ['sub-bob'] }, models: [] },
  { name: 'ann-again', match: { users: ['ann@example.com'] }, models: [] },
  { name: 'carol-or-sre', match: { users: ['carol@corp.test'], groups: ['sre'] }, models: [] },
];

function who(p: Partial<PolicyPrincipal>): PolicyPrincipal {
  return { subject: 'sub-someone', email: null, groups: [], ...p };
}

const CASES: [
  string,
  { given: PolicyPrincipal; want: { name: string; tier: PolicyTier; index: number } | null },
][] = [
  // user tier
  [
    'user (email) beats group, domain and everyone',
    {
      given: who({ email: 'ann@example.com', groups: ['eng'] }),
      want: { name: 'ann', tier: 'user', index: 5 },
    },
  ],
  [
    'user email matches case-insensitively',
    { given: who({ email: 'ANN@EXAMPLE.COM' }), want: { name: 'ann', tier: 'user', index: 5 } },
  ],
  [
    'user matches by subject, exactly',
    { given: who({ subject: 'sub-bob' }), want: { name: 'bob-by-subject', tier: 'user', index: 6 } },
  ],
  [
    'subject match is case-sensitive',
    { given: who({ subject: 'SUB-BOB' }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  [
    'an email entry does not match a subject that differs only in case',
    { given: who({ subject: 'ANN@EXAMPLE.COM' }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  [
    'within the user tier the first policy in config order wins',
    { given: who({ email: 'ann@example.com' }), want: { name: 'ann', tier: 'user', index: 5 } },
  ],
  [
    'a policy with users and groups places a listed user in the user tier',
    { given: who({ email: 'carol@corp.test' }), want: { name: 'carol-or-sre', tier: 'user', index: 8 } },
  ],
  // group tier
  [
    'group beats email domain and everyone',
    {
      given: who({ email: 'dave@example.com', groups: ['eng'] }),
      want: { name: 'eng', tier: 'group', index: 3 },
    },
  ],
  [
    'within the group tier config order wins, not the order of the principal groups',
    { given: who({ groups: ['ops', 'eng'] }), want: { name: 'eng', tier: 'group', index: 3 } },
  ],
  [
    'a later policy of the group tier matches when earlier ones do not',
    { given: who({ groups: ['ops'] }), want: { name: 'eng-or-ops', tier: 'group', index: 4 } },
  ],
  [
    'a policy with users and groups places a group member in the group tier',
    { given: who({ groups: ['sre'] }), want: { name: 'carol-or-sre', tier: 'group', index: 8 } },
  ],
  [
    'a user-tier policy later in config beats a group-tier policy earlier in config',
    {
      given: who({ email: 'carol@corp.test', groups: ['eng'] }),
      want: { name: 'carol-or-sre', tier: 'user', index: 8 },
    },
  ],
  [
    'group match is exact (case-sensitive)',
    { given: who({ groups: ['ENG'] }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  // email-domain tier
  [
    'email domain beats everyone; first in config wins (config entry case-insensitive)',
    {
      given: who({ email: 'dave@example.com' }),
      want: { name: 'example-domain', tier: 'emailDomain', index: 1 },
    },
  ],
  [
    'email domain matches case-insensitively',
    {
      given: who({ email: 'Dave@EXAMPLE.com' }),
      want: { name: 'example-domain', tier: 'emailDomain', index: 1 },
    },
  ],
  [
    'second domain of a later policy',
    {
      given: who({ email: 'erin@example.org' }),
      want: { name: 'example-domain-too', tier: 'emailDomain', index: 2 },
    },
  ],
  [
    'sub.example.com does not match example.com',
    { given: who({ email: 'dave@sub.example.com' }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  [
    'a look-alike domain does not match',
    { given: who({ email: 'dave@badexample.com' }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  [
    'a domain that only starts with example.com does not match',
    {
      given: who({ email: 'dave@example.com.evil.test' }),
      want: { name: 'everyone', tier: 'everyone', index: 0 },
    },
  ],
  [
    'the domain is the part after the LAST @',
    {
      given: who({ email: 'dave@example.com@evil.test' }),
      want: { name: 'everyone', tier: 'everyone', index: 0 },
    },
  ],
  [
    'no email: the user (email) and domain tiers cannot match',
    { given: who({ email: null }), want: { name: 'everyone', tier: 'everyone', index: 0 } },
  ],
  // everyone tier
  [
    'everyone matches anybody else',
    {
      given: who({ email: 'zed@elsewhere.test', groups: ['x'] }),
      want: { name: 'everyone', tier: 'everyone', index: 0 },
    },
  ],
];

describe('resolvePolicyMatch: precedence rule', () => {
  it.each(CASES)('%s', (_name, { given, want }) => {
    const got = resolvePolicyMatch(POLICIES, given);
    expect(got && { name: got.policy.name, tier: got.tier, index: got.index }).toEqual(want);
    expect(resolvePolicy(POLICIES, given)?.name ?? null).toBe(want?.name ?? null);
  });
});

const NO_EVERYONE = POLICIES.filter((p) => p.name !== 'everyone');

const NULL_CASES: [
  string,
  { given: { policies: PolicyConfig[]; principal: PolicyPrincipal }; want: null },
][] = [
  [
    'no policy matches → null',
    { given: { policies: NO_EVERYONE, principal: who({ email: 'z@elsewhere.test' }) }, want: null },
  ],
  [
    'no policies at all → null',
    { given: { policies: [], principal: who({ email: 'ann@example.com' }) }, want: null },
  ],
  [
    'a malformed email (no domain) matches no domain → null',
    { given: { policies: NO_EVERYONE, principal: who({ email: 'dave@' }) }, want: null },
  ],
  [
    'an email without @ matches no domain → null',
    { given: { policies: NO_EVERYONE, principal: who({ email: 'example.com' }) }, want: null },
  ],
];

describe('resolvePolicy: no match', () => {
  it.each(NULL_CASES)('%s', (_name, { given, want }) => {
    expect(resolvePolicy(given.policies, given.principal)).toBe(want);
    expect(resolvePolicyMatch(given.policies, given.principal)).toBe(want);
  });
});

describe('resolvePolicy: no merging', () => {
  it('returns the chosen policy object itself, never a combination of the matching ones', () => {
    const principal = who({ email: 'ann@example.com', groups: ['eng'] });
    const policy = resolvePolicy(POLICIES, principal);
    expect(policy).toBe(POLICIES[5]);
  });
});
