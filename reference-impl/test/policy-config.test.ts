/**
 * The `models` / `policies` config fragment (JSON Schema, validated the way the config loader validates) and the
 * checks it cannot express; plus the example of docs/policy.md, which must stay valid and resolve as documented.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import fragment from '../src/policy/config.fragment.json' with { type: 'json' };
import {
  checkCatalogue,
  checkPolicies,
  checkPolicyConfig,
  type ModelConfig,
  type PolicyConfig,
  type PolicyConfigSection,
} from '../src/policy/config.ts';
import { managedSettingsResponse } from '../src/policy/managed-settings.ts';
import { allowedModels, createModelCatalogue } from '../src/policy/models.ts';
import { resolvePolicy } from '../src/policy/resolve.ts';

// Same options as src/config/load.ts.
const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile(fragment);

function schemaErrors(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.keyword}`);
}

const MODEL = { id: 'claude-sonnet-4-5-20250929', displayName: 'Claude Sonnet 4.5' };
const POLICY = { name: 'eng', match: { groups: ['eng'] }, models: ['*'] };

describe('config.fragment.json', () => {
  it('compiles in strict mode and fills defaults', () => {
    const doc = {};
    expect(schemaErrors(doc)).toEqual([]);
    expect(doc).toEqual({ models: [], policies: [] });
  });

  it('gives every field a description', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (node === null || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [key, child] of Object.entries(props ?? {})) {
        if (typeof child.description !== 'string') missing.push(`${path}/${key}`);
        walk(child, `${path}/${key}`);
      }
      if (schema.items) walk(schema.items, `${path}/*`);
      for (const branch of (schema.anyOf as unknown[]) ?? []) walk(branch, path);
    };
    walk(fragment, '');
    expect(missing).toEqual([]);
  });

  const VALID: [string, { given: unknown; want: [] }][] = [
    [
      'a full model and policy',
      {
        given: {
          models: [{ ...MODEL, aliases: ['claude-sonnet-4-5'], createdAt: '2025-09-29T00:00:00Z' }],
          policies: [POLICY],
        },
        want: [],
      },
    ],
    ['managedSettings null', { given: { policies: [{ ...POLICY, managedSettings: null }] }, want: [] }],
    ['managedSettings {}', { given: { policies: [{ ...POLICY, managedSettings: {} }] }, want: [] }],
    [
      'managedSettings with client keys the schema does not know',
      {
        given: {
          policies: [
            {
              ...POLICY,
              managedSettings: {
                permissions: { deny: ['WebFetch'] },
                companyAnnouncements: ['hi'],
                env: { A: '1' },
              },
            },
          ],
        },
        want: [],
      },
    ],
    [
      'every match criterion together',
      {
        given: {
          policies: [
            {
              ...POLICY,
              match: {
                users: ['a@b.c', 'sub-1'],
                groups: ['g'],
                emailDomains: ['example.com', 'localhost'],
                everyone: true,
              },
            },
          ],
        },
        want: [],
      },
    ],
    ['empty allowlist', { given: { policies: [{ ...POLICY, models: [] }] }, want: [] }],
  ];
  it.each(VALID)('accepts %s', (_name, { given, want }) => {
    expect(schemaErrors(given)).toEqual(want);
  });

  const INVALID: [string, { given: unknown; want: string }][] = [
    ['an unknown top-level key', { given: { modelz: [] }, want: '/ additionalProperties' }],
    [
      'an unknown model key',
      { given: { models: [{ ...MODEL, price: 3 }] }, want: '/models/0 additionalProperties' },
    ],
    ['a model without displayName', { given: { models: [{ id: MODEL.id }] }, want: '/models/0 required' }],
    ["'*' as a model id", { given: { models: [{ ...MODEL, id: '*' }] }, want: '/models/0/id pattern' }],
    [
      'an uppercase model id',
      { given: { models: [{ ...MODEL, id: 'Claude-Sonnet' }] }, want: '/models/0/id pattern' },
    ],
    [
      'a duplicated alias inside one model',
      { given: { models: [{ ...MODEL, aliases: ['a', 'a'] }] }, want: '/models/0/aliases uniqueItems' },
    ],
    [
      'createdAt that is not RFC 3339',
      { given: { models: [{ ...MODEL, createdAt: '2025-09-29' }] }, want: '/models/0/createdAt pattern' },
    ],
    [
      'a policy without models',
      { given: { policies: [{ name: 'x', match: { everyone: true } }] }, want: '/policies/0 required' },
    ],
    [
      'a policy name with spaces',
      { given: { policies: [{ ...POLICY, name: 'my policy' }] }, want: '/policies/0/name pattern' },
    ],
    [
      'an empty match',
      { given: { policies: [{ ...POLICY, match: {} }] }, want: '/policies/0/match minProperties' },
    ],
    [
      'an unknown match key',
      {
        given: { policies: [{ ...POLICY, match: { roles: ['x'] } }] },
        want: '/policies/0/match additionalProperties',
      },
    ],
    [
      'everyone: false',
      {
        given: { policies: [{ ...POLICY, match: { everyone: false } }] },
        want: '/policies/0/match/everyone const',
      },
    ],
    [
      'an empty users list',
      {
        given: { policies: [{ ...POLICY, match: { users: [] } }] },
        want: '/policies/0/match/users minItems',
      },
    ],
    [
      "a domain with '@'",
      {
        given: { policies: [{ ...POLICY, match: { emailDomains: ['@example.com'] } }] },
        want: '/policies/0/match/emailDomains/0 pattern',
      },
    ],
    [
      'a wildcard domain',
      {
        given: { policies: [{ ...POLICY, match: { emailDomains: ['*.example.com'] } }] },
        want: '/policies/0/match/emailDomains/0 pattern',
      },
    ],
    [
      'managedSettings as a list',
      {
        given: { policies: [{ ...POLICY, managedSettings: ['x'] }] },
        want: '/policies/0/managedSettings anyOf',
      },
    ],
    [
      'a number in env',
      {
        given: { policies: [{ ...POLICY, managedSettings: { env: { A: 1 } } }] },
        want: '/policies/0/managedSettings/env/A type',
      },
    ],
  ];
  it.each(INVALID)('refuses %s', (_name, { given, want }) => {
    expect(schemaErrors(given)).toContain(want);
  });
});

describe('checkCatalogue', () => {
  const CASES: [string, { given: ModelConfig[]; want: string[] }][] = [
    [
      'a clean catalogue',
      {
        given: [
          { ...MODEL, aliases: ['claude-sonnet-4-5'] },
          { id: 'claude-haiku-4-5', displayName: 'H' },
        ],
        want: [],
      },
    ],
    ['an empty catalogue', { given: [], want: [] }],
    [
      'duplicate ids',
      {
        given: [MODEL, { ...MODEL, displayName: 'again' }],
        want: [
          `/models/1/id: '${MODEL.id}' is already used at /models/0/id (model ids and aliases must be unique)`,
        ],
      },
    ],
    [
      'an alias equal to another model id',
      {
        given: [MODEL, { id: 'claude-x', displayName: 'X', aliases: [MODEL.id] }],
        want: [
          `/models/1/aliases/0: '${MODEL.id}' is already used at /models/0/id (model ids and aliases must be unique)`,
        ],
      },
    ],
    [
      'an id equal to an earlier alias',
      {
        given: [
          { ...MODEL, aliases: ['claude-x'] },
          { id: 'claude-x', displayName: 'X' },
        ],
        want: [
          "/models/1/id: 'claude-x' is already used at /models/0/aliases/0 (model ids and aliases must be unique)",
        ],
      },
    ],
    [
      'the same alias on two models',
      {
        given: [
          { ...MODEL, aliases: ['sonnet'] },
          { id: 'claude-x', displayName: 'X', aliases: ['x', 'sonnet'] },
        ],
        want: [
          "/models/1/aliases/1: 'sonnet' is already used at /models/0/aliases/0 (model ids and aliases must be unique)",
        ],
      },
    ],
    [
      'an alias repeating its own id',
      {
        given: [{ ...MODEL, aliases: [MODEL.id] }],
        want: [
          `/models/0/aliases/0: '${MODEL.id}' is already used at /models/0/id (model ids and aliases must be unique)`,
        ],
      },
    ],
    [
      'an impossible createdAt date',
      {
        given: [{ ...MODEL, createdAt: '2025-13-45T00:00:00Z' }],
        want: ["/models/0/createdAt: '2025-13-45T00:00:00Z' is not a valid RFC 3339 date-time"],
      },
    ],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    expect(checkCatalogue(given)).toEqual(want);
  });
});

describe('checkPolicies', () => {
  const MODELS: ModelConfig[] = [{ ...MODEL, aliases: ['claude-sonnet-4-5'] }];
  const CASES: [string, { given: PolicyConfig[]; want: string[] }][] = [
    [
      "ids, aliases and '*' are fine",
      { given: [{ ...POLICY, models: [MODEL.id, 'claude-sonnet-4-5', '*'] }], want: [] },
    ],
    [
      'an unknown allowlist entry names the policy and the model',
      {
        given: [POLICY, { ...POLICY, name: 'ops', models: ['claude-sonnet-4-5', 'gpt-4o'] }],
        want: [
          "/policies/1/models/1: policy 'ops' allows 'gpt-4o', which is not a model id or alias in /models",
        ],
      },
    ],
    [
      'allowlist entries are case-sensitive',
      {
        given: [{ ...POLICY, models: ['Claude-Sonnet-4-5'] }],
        want: [
          "/policies/0/models/0: policy 'eng' allows 'Claude-Sonnet-4-5', which is not a model id or alias in /models",
        ],
      },
    ],
    [
      'duplicate policy names',
      {
        given: [POLICY, { ...POLICY, name: 'ops' }, { ...POLICY }],
        want: [
          "/policies/2/name: policy name 'eng' is already used at /policies/0/name (policy names must be unique)",
        ],
      },
    ],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    expect(checkPolicies(given, MODELS)).toEqual(want);
  });

  it('checkPolicyConfig reports catalogue and policy problems together', () => {
    const config: PolicyConfigSection = {
      models: [MODEL, MODEL],
      policies: [{ ...POLICY, models: ['nope'] }],
    };
    expect(checkPolicyConfig(config)).toEqual([
      `/models/1/id: '${MODEL.id}' is already used at /models/0/id (model ids and aliases must be unique)`,
      "/policies/0/models/0: policy 'eng' allows 'nope', which is not a model id or alias in /models",
    ]);
  });
});

describe('docs/policy.md example', () => {
  const markdown = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');
  const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(markdown)?.[1];
  const config = parse(yamlBlock ?? '') as PolicyConfigSection;

  it('validates against the fragment and passes every config check', () => {
    expect(yamlBlock).toBeDefined();
    expect(schemaErrors(config)).toEqual([]);
    expect(checkPolicyConfig(config)).toEqual([]);
  });

  const WORKED: [string, { given: { email: string; groups: string[] }; want: string }][] = [
    ['the CTO', { given: { email: 'CTO@Example.com', groups: ['platform-eng'] }, want: 'cto' }],
    [
      'Priya',
      { given: { email: 'priya@example.com', groups: ['platform-eng', 'contractors'] }, want: 'platform' },
    ],
    ['Carl', { given: { email: 'carl@partner.test', groups: ['contractors'] }, want: 'contractors' }],
    ['Dana', { given: { email: 'dana@example.com', groups: [] }, want: 'staff' }],
    ['Sam', { given: { email: 'sam@eu.example.com', groups: [] }, want: 'default' }],
  ];
  it.each(WORKED)('worked example: %s', (_name, { given, want }) => {
    expect(resolvePolicy(config.policies, { subject: `sub-${given.email}`, ...given })?.name).toBe(want);
  });

  it('answers as the docs say: 200 with {} for contractors, 404 for default, allowlists resolved', () => {
    const byName = (name: string) => config.policies.find((p) => p.name === name) ?? null;
    expect(managedSettingsResponse(byName('contractors'))).toMatchObject({
      status: 200,
      body: { settings: {} },
    });
    expect(managedSettingsResponse(byName('default'))).toEqual({ status: 404 });
    const catalogue = createModelCatalogue(config.models);
    expect(allowedModels(catalogue, byName('staff'))).toEqual([
      'claude-sonnet-4-5-20250929',
      'claude-haiku-4-5-20251001',
    ]);
    expect(catalogue.get('claude-sonnet-4-5')?.createdAt).toBe('2025-09-29T00:00:00Z');
    expect(catalogue.get('claude-opus-4-5')?.createdAt).toBe('2025-11-01T00:00:00Z');
  });
});
