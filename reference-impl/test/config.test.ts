import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSecrets, loadConfigFile, parseConfig } from '../src/config/load.ts';
import { GatewayError } from '../src/errors.ts';

const TOKEN = 't'.repeat(40);
const KEY = 'sk-ant-secret-key-value';
const ENV = { OCG_DEV_TOKEN: TOKEN, ANTHROPIC_API_KEY: KEY };

const BASE = `
auth:
  staticTokens:
    - token: \${env:OCG_DEV_TOKEN}
      subject: dev-user
      email: dev@example.com
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: http://127.0.0.1:9999
    apiKey: \${env:ANTHROPIC_API_KEY}
`;

function configError(yaml: string, env: Record<string, string | undefined> = ENV): GatewayError {
  try {
    parseConfig(yaml, env);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('ERR_CONFIG_INVALID');
    return err as GatewayError;
  }
  throw new Error('expected a config error');
}

describe('parseConfig: valid documents', () => {
  it('fills every default and resolves references', () => {
    const config = parseConfig(BASE, ENV);
    expect(config).toEqual({
      server: { host: '127.0.0.1', port: 8080, maxRequestBodyBytes: 33554432, shutdownGraceMs: 10000 },
      database: {},
      auth: {
        staticTokens: [{ token: TOKEN, subject: 'dev-user', email: 'dev@example.com' }],
        previousKeyEncryptionKeys: [],
        accessTokenTtlS: 3600,
        refreshTokenTtlS: 2592000,
        sessionMaxAgeS: 7776000,
        clockToleranceS: 30,
        signingKeyRetirementSkewS: 300,
        keyRefreshIntervalS: 60,
        revocationCacheTtlMs: 2000,
        deviceAuthorization: { expiresInS: 600, intervalS: 5 },
        adminGroups: { write: [], read: [] },
      },
      clientEnvironment: { modelDiscovery: true, telemetry: false },
      routing: {
        maxAttemptsPerTarget: 2,
        maxAttemptsPerRequest: 4,
        deadlineMs: 60000,
        firstTokenMs: 60000,
        idleMs: 60000,
        backoffBaseMs: 500,
        backoffMaxMs: 8000,
        breaker: {
          failureThreshold: 5,
          errorRateThreshold: 0.5,
          minRequests: 10,
          windowMs: 60000,
          coolDownMs: 30000,
        },
      },
      upstreams: [
        {
          name: 'anthropic',
          kind: 'anthropic',
          baseUrl: 'http://127.0.0.1:9999',
          apiKey: KEY,
          timeouts: { connectMs: 10000, firstByteMs: 60000, idleMs: 300000 },
        },
      ],
      log: { level: 'info' },
      models: [],
      policies: [],
    });
  });

  it('reads ${file:…} references (absolute and relative to the config file) without the trailing newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocg-config-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'key'), `${KEY}\n`);
    const yaml = BASE.replace('${env:OCG_DEV_TOKEN}', `\${file:${join(dir, 'token')}}`).replace(
      '${env:ANTHROPIC_API_KEY}',
      '${file:key}',
    );
    writeFileSync(join(dir, 'gateway.yaml'), yaml);
    const config = await loadConfigFile(join(dir, 'gateway.yaml'), {});
    expect(config.auth.staticTokens[0]?.token).toBe(TOKEN);
    expect(config.upstreams[0]).toMatchObject({ kind: 'anthropic', apiKey: KEY });
  });

  it('lets DATABASE_URL override database.url', () => {
    const yaml = `${BASE}database:\n  url: "pglite:memory:"\n`;
    const config = parseConfig(yaml, { ...ENV, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' });
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/x');
  });

  it('accepts a database password that comes from a reference, and lists it as a secret', () => {
    const yaml = `${BASE}database:\n  url: postgres://ocg:\${env:PGPASS}@db.internal:5432/ocg\n`;
    const config = parseConfig(yaml, { ...ENV, PGPASS: 'pa55word-xyz' });
    expect(config.database.url).toBe('postgres://ocg:pa55word-xyz@db.internal:5432/ocg');
    expect(configSecrets(config)).toEqual(expect.arrayContaining([TOKEN, KEY, 'pa55word-xyz']));
  });
});

describe('parseConfig: refused documents', () => {
  const cases: Array<[name: string, yaml: string, env: Record<string, string | undefined>, want: string]> = [
    [
      'unknown upstream kind',
      BASE.replace('kind: anthropic', 'kind: openai'),
      ENV,
      '/upstreams/0/kind: must be equal to one of the allowed values',
    ],
    ['unknown key, with its path', `${BASE}server:\n  prot: 8080\n`, ENV, '/server/prot: unknown key'],
    ['unknown top-level key', `${BASE}upstream: {}\n`, ENV, '/upstream: unknown key'],
    [
      'literal upstream apiKey',
      BASE.replace('${env:ANTHROPIC_API_KEY}', 'sk-ant-literal'),
      ENV,
      '/upstreams/0/apiKey: must be a secret reference',
    ],
    [
      'literal static token',
      BASE.replace('${env:OCG_DEV_TOKEN}', 'x'.repeat(40)),
      ENV,
      '/auth/staticTokens/0/token: must be a secret reference',
    ],
    [
      'literal database password',
      `${BASE}database:\n  url: postgres://ocg:hunter2@db:5432/ocg\n`,
      ENV,
      '/database/url: the password must come from a secret reference',
    ],
    [
      'missing environment variable',
      BASE,
      { ANTHROPIC_API_KEY: KEY },
      '/auth/staticTokens/0/token: environment variable OCG_DEV_TOKEN is not set',
    ],
    [
      'unreadable secret file',
      BASE.replace('${env:ANTHROPIC_API_KEY}', '${file:/nonexistent/ocg/key}'),
      ENV,
      '/upstreams/0/apiKey: cannot read secret file /nonexistent/ocg/key (ENOENT)',
    ],
    [
      'short static token',
      BASE,
      { ...ENV, OCG_DEV_TOKEN: 'short-token' },
      '/auth/staticTokens/0/token: must NOT have fewer than 32 characters',
    ],
    [
      'two upstreams with one name',
      `${BASE}  - name: anthropic\n    kind: anthropic\n    baseUrl: http://127.0.0.1:9998\n    apiKey: \${env:ANTHROPIC_API_KEY}\n`,
      ENV,
      "/upstreams/1/name: duplicates an earlier upstream's name",
    ],
    [
      'a bedrock upstream without auth',
      `${BASE}  - name: bedrock\n    kind: bedrock\n    region: us-east-1\n`,
      ENV,
      '/upstreams/1/auth: is required',
    ],
    [
      'a literal AWS secret key',
      `${BASE}  - name: bedrock\n    kind: bedrock\n    region: us-east-1\n    auth: { type: sigv4, accessKeyId: AKIDEXAMPLE, secretAccessKey: wJalrXUtnFEMI }\n`,
      ENV,
      '/upstreams/1/auth/secretAccessKey: must be a secret reference',
    ],
    [
      'betas to drop on an upstream that is not bedrock',
      BASE.replace(
        '    apiKey: ${env:ANTHROPIC_API_KEY}\n',
        '    apiKey: ${env:ANTHROPIC_API_KEY}\n    betas: { drop: [oauth-2025-04-20] }\n',
      ),
      ENV,
      '/upstreams/0/betas: only an upstream of kind bedrock drops betas',
    ],
    [
      'a beta pattern with * inside',
      `${BASE}  - name: bedrock\n    kind: bedrock\n    region: us-east-1\n    auth: { type: sigv4-default }\n    betas: { drop: ['context-*-2025'] }\n`,
      ENV,
      '/upstreams/1/betas/drop/0: must match pattern',
    ],
    [
      'a vertex upstream without a project',
      `${BASE}  - name: vertex\n    kind: vertex\n    region: global\n    auth: { type: adc }\n`,
      ENV,
      '/upstreams/1/projectId: is required',
    ],
    [
      'a model target naming no upstream',
      `${BASE}models:\n  - { id: m1, displayName: M1, targets: [{ upstream: nowhere }] }\n`,
      ENV,
      '/models/0/targets/0/upstream: no upstream is named "nowhere"',
    ],
    ['missing upstreams', 'auth:\n  staticTokens: []\n', ENV, '/upstreams: is required'],
    [
      'body limit below 1 MiB',
      `${BASE}server:\n  maxRequestBodyBytes: 1000\n`,
      ENV,
      '/server/maxRequestBodyBytes',
    ],
    ['wrong type', `${BASE}server:\n  port: "80"\n`, ENV, '/server/port: must be integer'],
    ['invalid YAML', 'auth: [', ENV, 'config is not valid YAML'],
  ];

  it.each(cases)('%s', (_name, yaml, env, want) => {
    const err = configError(yaml, env);
    expect(err.message).toContain(want);
  });

  it('never prints secret values in its messages', () => {
    const literal = 'sk-ant-THIS-MUST-NOT-LEAK';
    const err = configError(
      BASE.replace('${env:ANTHROPIC_API_KEY}', literal).replace('kind: anthropic', 'kind: nope'),
      ENV,
    );
    expect(err.message).not.toContain(literal);
    const short = configError(BASE, { ...ENV, OCG_DEV_TOKEN: 'short-secret-value' });
    expect(short.message).not.toContain('short-secret-value');
  });

  it('reports every problem at once, one per detail', () => {
    const err = configError(`${BASE.replace('kind: anthropic', 'kind: x')}server:\n  prot: 1\n`);
    expect(err.details).toEqual(
      expect.arrayContaining([
        '/upstreams/0/kind: must be equal to one of the allowed values (anthropic, bedrock, vertex)',
        '/server/prot: unknown key',
      ]),
    );
  });

  it('names the file when it cannot be read', async () => {
    await expect(loadConfigFile('/nonexistent/gateway.yaml', ENV)).rejects.toThrow(
      'cannot read config file /nonexistent/gateway.yaml: ENOENT',
    );
  });
});

describe('parseConfig: sign-in and sessions', () => {
  const KEK = Buffer.alloc(32, 7).toString('base64url');
  const UPSTREAM = `upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: http://127.0.0.1:9999
    apiKey: \${env:ANTHROPIC_API_KEY}
`;
  const OIDC = `  oidc:
    issuer: http://127.0.0.1:9000
    clientId: ocg
`;
  const table: Array<[string, { yaml: string; env?: Record<string, string>; want: string }]> = [
    ['no way to authenticate', { yaml: `auth: {}\n${UPSTREAM}`, want: '/auth: configure sign-in' }],
    [
      'oidc without a key-encryption key',
      {
        yaml: `auth:\n${OIDC}${UPSTREAM}`,
        want: '/auth/keyEncryptionKey: is required when auth.oidc is set',
      },
    ],
    [
      'a literal key-encryption key',
      {
        yaml: `auth:\n${OIDC}  keyEncryptionKey: ${KEK}\n${UPSTREAM}`,
        want: '/auth/keyEncryptionKey: must be a secret reference',
      },
    ],
    [
      'a key-encryption key that is not 32 bytes',
      {
        yaml: `auth:\n${OIDC}  keyEncryptionKey: \${env:KEK}\n${UPSTREAM}`,
        env: { KEK: `${Buffer.alloc(31, 1).toString('base64url')}AA` },
        want: '/auth/keyEncryptionKey: must be 32 random bytes',
      },
    ],
    [
      'a key refresh interval not below the retirement skew',
      {
        yaml: `auth:\n${OIDC}  keyEncryptionKey: \${env:KEK}\n  keyRefreshIntervalS: 600\n  signingKeyRetirementSkewS: 300\n${UPSTREAM}`,
        env: { KEK },
        want: '/auth/keyRefreshIntervalS: must be below',
      },
    ],
  ];
  it.each(table)('refuses %s', (_name, t) => {
    const err = configError(t.yaml, { ...ENV, ...(t.env ?? {}) });
    expect(err.details.join('\n')).toContain(t.want);
    expect(err.message).not.toContain(KEK);
  });

  it('refuses static development tokens under NODE_ENV=production', () => {
    const err = configError(BASE, { ...ENV, NODE_ENV: 'production' });
    expect(err.details.join('\n')).toContain('/auth/staticTokens: development bearer tokens are refused');
    expect(err.message).not.toContain(TOKEN);
  });

  it('accepts oidc with a referenced key-encryption key and lists the key as a secret', () => {
    const config = parseConfig(`auth:\n${OIDC}  keyEncryptionKey: \${env:KEK}\n${UPSTREAM}`, { ...ENV, KEK });
    expect(config.auth.keyEncryptionKey).toBe(KEK);
    expect(config.auth.staticTokens).toEqual([]);
    expect(configSecrets(config)).toContain(KEK);
  });
});

describe('reference-impl/gateway.example.yaml', () => {
  it('is a valid configuration (the README and docs point at it)', async () => {
    const file = new URL('../gateway.example.yaml', import.meta.url).pathname;
    const config = await loadConfigFile(file, {
      PGPASSWORD: 'pw',
      OCG_KEK: Buffer.alloc(32, 3).toString('base64'),
      OCG_OIDC_CLIENT_SECRET: 'client-secret',
      ANTHROPIC_API_KEY: KEY,
    });
    expect(config.auth.oidc?.issuer).toBe('https://login.example.com');
    expect(config.policies.map((p) => p.name)).toEqual(['platform-team', 'staff']);
  });
});
