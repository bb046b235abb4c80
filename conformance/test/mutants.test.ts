/**
 * The kit against deliberately broken variants of the reference gateway (conformance/test/mutants/): each must
 * fail exactly the case aimed at it and pass every other case of its area — a kit that misses a fault, or blames
 * the wrong case, fails here. Each mutant runs the cases of the areas it could disturb (discovery plus its own),
 * not the whole kit, to keep the suite quick. The cases that wait about a minute for a token to expire
 * (`session/expiry`, `passthrough/expired-credential`) run only for a mutant whose areas name them exactly;
 * session/expiry's mutants are caught elsewhere.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allCases, runConformance } from '../src/index.ts';

const mutant = (name: string) => fileURLToPath(new URL(`./mutants/${name}.ts`, import.meta.url));

const RELAY = ['discovery/', 'inference/', 'errors/'];
const SIGN_IN = ['discovery/', 'session/'];
const POLICY = ['discovery/', 'policy/', 'models/'];
const ADMIN = ['discovery/', 'admin/'];
const ROUTING = ['discovery/', 'routing/'];
const PASSTHROUGH = ['discovery/', 'passthrough/'];
/** Cases that wait for expiries: run only where a mutant's areas name them. */
const WAITING = new Set(['session/expiry', 'passthrough/expired-credential']);

/**
 * `profile`: the profile the aimed-at case belongs to, when not core (it is run with core and must fail);
 * `profileResult`: what that profile then reports (`fail`, or `partial` when the case checks a SHOULD).
 */
const TABLE: Array<
  [string, { want: string[]; areas: string[]; profile?: string; profileResult?: 'fail' | 'partial' }]
> = [
  ['buffers-sse', { want: ['inference/no-buffering'], areas: RELAY }],
  ['leaks-client-credentials', { want: ['inference/credentials-replaced'], areas: RELAY }],
  ['drops-request-id', { want: ['errors/request-id-header'], areas: RELAY }],
  ['forwards-hop-by-hop', { want: ['inference/hop-by-hop-headers'], areas: RELAY }],
  ['ignores-client-disconnect', { want: ['inference/client-disconnect'], areas: RELAY }],
  ['answers-401-when-upstream-down', { want: ['errors/upstream-unreachable'], areas: RELAY }],
  ['accepts-alg-none', { want: ['session/forged-tokens'], areas: SIGN_IN }],
  ['replays-device-code', { want: ['session/device-code-replay'], areas: SIGN_IN }],
  ['ignores-refresh-token-reuse', { want: ['session/refresh-reuse'], areas: SIGN_IN }],
  ['ignores-allowlist', { want: ['policy/allowlist'], areas: POLICY }],
  ['wrong-etag', { want: ['policy/settings-etag'], areas: POLICY }],
  ['trusts-unsigned-admin-claims', { want: ['admin/unsigned-claims'], areas: ADMIN, profile: 'admin' }],
  [
    'presents-cut-stream-as-success',
    { want: ['routing/mid-stream-failure'], areas: ROUTING, profile: 'routing' },
  ],
  ['retries-a-400', { want: ['routing/no-retry-on-4xx'], areas: ROUTING, profile: 'routing' }],
  ['passes-upstream-401', { want: ['routing/upstream-credentials'], areas: ROUTING, profile: 'routing' }],
  [
    'new-upstream-connection-per-request',
    {
      want: ['routing/connection-reuse'],
      areas: ['discovery/', 'routing/connection-reuse'],
      profile: 'routing',
      profileResult: 'partial',
    },
  ],
  [
    'bedrock-stream-as-sse',
    { want: ['passthrough/bedrock-stream'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'corrupts-eventstream-crc',
    { want: ['passthrough/bedrock-stream'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'buffers-eventstream',
    { want: ['passthrough/bedrock-stream'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'bedrock-stream-ends-cleanly',
    { want: ['passthrough/bedrock-stream'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'anthropic-errors-on-bedrock',
    { want: ['passthrough/bedrock-errors'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'drops-bedrock-token-count-headers',
    { want: ['passthrough/bedrock-token-count-headers'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'bedrock-count-in-anthropic-shape',
    { want: ['passthrough/bedrock-count-tokens'], areas: PASSTHROUGH, profile: 'passthrough' },
  ],
  [
    'accepts-expired-on-passthrough',
    {
      want: ['passthrough/expired-credential'],
      areas: ['discovery/', 'passthrough/expired-credential'],
      profile: 'passthrough',
    },
  ],
  // Its rawPredict paths include count-tokens:rawPredict, whose errors are Google's too (PASSTHROUGH-9).
  [
    'vertex-errors-in-anthropic-envelope',
    {
      want: ['passthrough/vertex', 'passthrough/vertex-count-tokens'],
      areas: PASSTHROUGH,
      profile: 'passthrough',
    },
  ],
];

describe('mutants are caught by exactly the case aimed at them', () => {
  it.each(TABLE)('%s', { timeout: 180_000 }, async (name, { want, areas, profile, profileResult }) => {
    const report = await runConformance({
      adapter: mutant(name),
      profiles: profile ? ['core', profile] : ['core', 'operations'],
      seed: 20260101,
      outDir: null,
      keepWorkDir: false,
      cases: allCases.filter((c) =>
        WAITING.has(c.id) ? areas.includes(c.id) : areas.some((a) => c.id.startsWith(a)),
      ),
    });
    const failed = report.cases.filter((c) => c.result !== 'pass').map((c) => c.id);
    expect(
      failed,
      JSON.stringify(report.cases.filter((c) => c.result !== 'pass').map((c) => c.message)),
    ).toEqual(want);
    expect(report.cases.find((c) => c.id === want[0])?.result).toBe('fail');
    expect(report.profiles.find((p) => p.name === (profile ?? 'core'))?.result).toBe(profileResult ?? 'fail');
  });
});
