/**
 * POLICY-*: `/managed/settings` answers (404 vs 200 with `{}`), the checksum the client computes, ETag /
 * If-None-Match, the policy uuid and the client environment pushed through settings.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ManagedSettings, PolicyConfig } from '../src/policy/config.ts';
import {
  canonicalSettingsJson,
  type GatewayEnvironment,
  managedSettingsResponse,
  matchesIfNoneMatch,
  POLICY_UUID_NAMESPACE,
  policyUuid,
  settingsChecksum,
  withGatewayEnvironment,
} from '../src/policy/managed-settings.ts';

const SETTINGS: ManagedSettings = {
  permissions: { deny: ['Bash(rm:*)', 'WebFetch'], allow: ['Read'] },
  env: { B: '2', A: '1' },
  model: 'claude-sonnet-4-5',
};
// Computed outside Node: printf '%s' '<CANONICAL>' | sha256sum
const CANONICAL =
  '{"env":{"A":"1","B":"2"},"model":"claude-sonnet-4-5","permissions":{"allow":["Read"],"deny":["Bash(rm:*)","WebFetch"]}}';
const CHECKSUM = 'sha256:4b6dd829524a3ea1993627ddd7cb8fff950781718aa341203b50e0614b127e36';
const EMPTY_CHECKSUM = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'; // of "{}"

/** The client's way (protocol-facts §0), written independently of the module under test. */
function clientIfNoneMatch(settings: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.keys(o)
        .sort()
        .reduce<Record<string, unknown>>((acc, k) => {
          acc[k] = sort(o[k]);
          return acc;
        }, {});
    }
    return v;
  };
  return `"sha256:${createHash('sha256')
    .update(JSON.stringify(sort(settings)))
    .digest('hex')}"`;
}

function policy(managedSettings?: ManagedSettings | null, name = 'eng'): PolicyConfig {
  const p: PolicyConfig = { name, match: { everyone: true }, models: ['*'] };
  if (managedSettings !== undefined) p.managedSettings = managedSettings;
  return p;
}

describe('settingsChecksum', () => {
  it('equals the hand-computed value of the canonical JSON', () => {
    expect(canonicalSettingsJson(SETTINGS)).toBe(CANONICAL);
    expect(settingsChecksum(SETTINGS)).toBe(CHECKSUM);
  });

  it('does not depend on key order, at any depth', () => {
    const reordered = {
      model: 'claude-sonnet-4-5',
      env: { A: '1', B: '2' },
      permissions: { allow: ['Read'], deny: ['Bash(rm:*)', 'WebFetch'] },
    };
    expect(settingsChecksum(reordered)).toBe(CHECKSUM);
    expect(clientIfNoneMatch(reordered)).toBe(`"${CHECKSUM}"`);
  });

  it('keeps array order (a reordered array is a different document)', () => {
    const swapped = { ...SETTINGS, permissions: { deny: ['WebFetch', 'Bash(rm:*)'], allow: ['Read'] } };
    expect(settingsChecksum(swapped)).not.toBe(CHECKSUM);
  });

  it('sorts keys inside objects nested in arrays', () => {
    expect(canonicalSettingsJson({ hooks: [{ z: 1, a: { y: 2, b: 3 } }] })).toBe(
      '{"hooks":[{"a":{"b":3,"y":2},"z":1}]}',
    );
  });

  it('orders integer-like keys the way JSON.stringify of a sorted copy does (as the client)', () => {
    const doc = { b: 1, '10': 'x', '9': 'y', a: 2 };
    expect(canonicalSettingsJson(doc)).toBe('{"9":"y","10":"x","a":2,"b":1}');
    expect(`"${settingsChecksum(doc)}"`).toBe(clientIfNoneMatch(doc));
  });

  it('keeps a __proto__ key as data', () => {
    const doc = JSON.parse('{"b":1,"__proto__":{"x":1}}') as unknown;
    expect(canonicalSettingsJson(doc)).toBe('{"__proto__":{"x":1},"b":1}');
  });
});

describe('managedSettingsResponse', () => {
  const CASES: [string, { given: PolicyConfig | null; want: number }][] = [
    ['no policy applies → 404', { given: null, want: 404 }],
    ['policy without managedSettings → 404 (no managed policy)', { given: policy(), want: 404 }],
    ['policy with managedSettings: null → 404', { given: policy(null), want: 404 }],
    ['policy with managedSettings: {} → 200 (an empty policy is a policy)', { given: policy({}), want: 200 }],
    ['policy with settings → 200', { given: policy(SETTINGS), want: 200 }],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    expect(managedSettingsResponse(given).status).toBe(want);
  });

  it('answers {uuid, checksum, settings} with ETag = quoted checksum', () => {
    const r = managedSettingsResponse(policy(SETTINGS));
    expect(r).toEqual({
      status: 200,
      etag: `"${CHECKSUM}"`,
      body: { uuid: 'df2b28c6-ce3f-57a2-88d4-28228bec0cdd', checksum: CHECKSUM, settings: SETTINGS },
    });
  });

  it('an empty policy has the checksum of "{}"', () => {
    const r = managedSettingsResponse(policy({}));
    expect(r).toEqual({
      status: 200,
      etag: `"${EMPTY_CHECKSUM}"`,
      body: { uuid: policyUuid('eng'), checksum: EMPTY_CHECKSUM, settings: {} },
    });
  });

  it('the client, sending the ETag of its cached copy with keys in another order, gets a match (→ 304)', () => {
    const r = managedSettingsResponse(policy(SETTINGS));
    if (r.status !== 200) throw new Error('expected 200');
    const cached = JSON.parse(
      JSON.stringify({ permissions: SETTINGS.permissions, model: SETTINGS.model, env: { A: '1', B: '2' } }),
    );
    expect(matchesIfNoneMatch(clientIfNoneMatch(cached), r.etag)).toBe(true);
  });

  it('applies the gateway environment before the checksum', () => {
    const environment = { baseUrl: 'https://gw.example.com', modelDiscovery: true, otlp: false };
    const r = managedSettingsResponse(policy({}), { environment });
    if (r.status !== 200) throw new Error('expected 200');
    expect(r.body.settings).toEqual({ env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' } });
    expect(r.body.checksum).toBe(settingsChecksum(r.body.settings));
    expect(r.etag).toBe(clientIfNoneMatch(r.body.settings));
  });

  it('never pushes the environment without managed settings (still 404)', () => {
    const environment = { baseUrl: 'https://gw.example.com', modelDiscovery: true, otlp: true };
    expect(managedSettingsResponse(policy(), { environment })).toEqual({ status: 404 });
  });
});

describe('policyUuid', () => {
  it('is UUID v5 (matches a published vector: python.org in the DNS namespace)', () => {
    expect(policyUuid('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '886313e1-3b8a-5372-9b90-0c9aee199e5d',
    );
  });

  it('is stable for a name and differs between names (case-sensitive)', () => {
    expect(POLICY_UUID_NAMESPACE).toBe('37d5514a-ffe3-4774-a186-bf0ab1d2f3af');
    expect(policyUuid('eng')).toBe('df2b28c6-ce3f-57a2-88d4-28228bec0cdd');
    expect(policyUuid('everyone')).toBe('7fb7b728-0c13-5474-99cd-d30be56a9b1f');
    expect(policyUuid('Eng')).toBe('2b6c9ef7-af4e-5875-9a3c-f6b6eec00d1a');
    expect(policyUuid('eng')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => policyUuid('eng', 'not-a-uuid')).toThrow(TypeError);
  });
});

describe('matchesIfNoneMatch', () => {
  const ETAG = `"${CHECKSUM}"`;
  const OTHER = '"sha256:0000000000000000000000000000000000000000000000000000000000000000"';
  const CASES: [string, { given: string | string[] | undefined; want: boolean }][] = [
    ['absent header', { given: undefined, want: false }],
    ['empty header', { given: '', want: false }],
    ["the client's exact form", { given: ETAG, want: true }],
    ['another checksum', { given: OTHER, want: false }],
    ['weak tag (weak comparison)', { given: `W/${ETAG}`, want: true }],
    ['list containing the tag', { given: `${OTHER}, W/"x", ${ETAG}`, want: true }],
    ['list without the tag', { given: `${OTHER},"x"`, want: false }],
    ['list without spaces', { given: `"a",${ETAG}`, want: true }],
    ['star', { given: '*', want: true }],
    ['star with whitespace', { given: ' * ', want: true }],
    ['repeated headers (array)', { given: [OTHER, ETAG], want: true }],
    ['bare unquoted checksum (lenient)', { given: CHECKSUM, want: true }],
    ['bare unquoted other value', { given: 'sha256:abc', want: false }],
    ['the checksum without the sha256: prefix', { given: `"${CHECKSUM.slice(7)}"`, want: false }],
    ['malformed: unterminated quote', { given: `"${CHECKSUM}`, want: false }],
    ['malformed tail after a non-matching tag', { given: `"x", garbage ${ETAG}`, want: false }],
    ['prefix of the tag', { given: `"${CHECKSUM.slice(0, 20)}"`, want: false }],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    expect(matchesIfNoneMatch(given, ETAG)).toBe(want);
  });
});

describe('withGatewayEnvironment', () => {
  const BASE = 'https://gw.example.com/';
  const ALL_VARS = {
    CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
    CLAUDE_CODE_ENABLE_TELEMETRY: '1',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example.com',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_LOGS_EXPORTER: 'otlp',
  };
  const CASES: [
    string,
    { given: { settings: ManagedSettings; env: GatewayEnvironment }; want: ManagedSettings },
  ][] = [
    [
      'adds discovery and OTLP to settings without env',
      {
        given: { settings: { model: 'm' }, env: { baseUrl: BASE, modelDiscovery: true, otlp: true } },
        want: { model: 'm', env: ALL_VARS },
      },
    ],
    [
      'discovery only',
      {
        given: { settings: {}, env: { baseUrl: BASE, modelDiscovery: true, otlp: false } },
        want: { env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' } },
      },
    ],
    [
      'OTLP only, endpoint without the trailing slash',
      {
        given: {
          settings: {},
          env: { baseUrl: 'http://127.0.0.1:8080///', modelDiscovery: false, otlp: true },
        },
        want: {
          env: {
            CLAUDE_CODE_ENABLE_TELEMETRY: '1',
            OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:8080',
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
            OTEL_METRICS_EXPORTER: 'otlp',
            OTEL_LOGS_EXPORTER: 'otlp',
          },
        },
      },
    ],
    [
      'neither: settings unchanged',
      {
        given: { settings: { env: { X: '1' } }, env: { baseUrl: BASE, modelDiscovery: false, otlp: false } },
        want: { env: { X: '1' } },
      },
    ],
    [
      'operator values win over the gateway defaults; other operator variables are kept',
      {
        given: {
          settings: {
            env: {
              OTEL_METRICS_EXPORTER: 'none',
              OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com',
              CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '0',
              CLAUDE_CODE_ENABLE_TELEMETRY: '',
              MY_VAR: 'kept',
            },
          },
          env: { baseUrl: BASE, modelDiscovery: true, otlp: true },
        },
        want: {
          env: {
            ...ALL_VARS,
            OTEL_METRICS_EXPORTER: 'none',
            OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com',
            CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '0',
            CLAUDE_CODE_ENABLE_TELEMETRY: '',
            MY_VAR: 'kept',
          },
        },
      },
    ],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    const before = structuredClone(given.settings);
    expect(withGatewayEnvironment(given.settings, given.env)).toEqual(want);
    expect(given.settings).toEqual(before); // not modified
  });
});
