/**
 * Configuration: one YAML file, validated against `config.schema.json` at boot.
 *
 * Order of work: parse YAML → refuse literal secrets → resolve `${env:NAME}` / `${file:/path}` references →
 * `DATABASE_URL` override → JSON Schema validation (defaults filled in) → checks the schema cannot express.
 * Every problem is reported with its field path (`/upstreams/0/kind: …`); values are never printed.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseDocument } from 'yaml';
import { GatewayError } from '../errors.ts';
import type { LogLevel } from '../log/logger.ts';
import { checkPolicyConfig, type ModelConfig, type PolicyConfig } from '../policy/config.ts';
import { parseKekText } from '../session/kek.ts';
import { checkOidcConfig, type OidcConfig as SigninOidcConfig } from '../signin/config.ts';
import schema from './config.schema.json' with { type: 'json' };

export interface ServerConfig {
  host: string;
  port: number;
  maxRequestBodyBytes: number;
  shutdownGraceMs: number;
}

export interface StaticTokenConfig {
  token: string;
  subject: string;
  email?: string;
  name?: string;
  groups?: string[];
}

/** `auth.oidc`: the IdP the gateway signs users in with (see config.schema.json for every field). */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  [key: string]: unknown;
}

/** `auth`: sign-in, sessions and tokens (see config.schema.json for every field's meaning and default). */
export interface AuthConfig {
  staticTokens: StaticTokenConfig[];
  oidc?: OidcConfig;
  issuer?: string;
  audience?: string;
  keyEncryptionKey?: string;
  previousKeyEncryptionKeys: string[];
  accessTokenTtlS: number;
  refreshTokenTtlS: number;
  sessionMaxAgeS: number;
  clockToleranceS: number;
  signingKeyRetirementSkewS: number;
  keyRefreshIntervalS: number;
  revocationCacheTtlMs: number;
  deviceAuthorization: { expiresInS: number; intervalS: number };
  adminGroups?: { read?: string[]; write?: string[] };
  [key: string]: unknown;
}

export interface UpstreamTimeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
}

/** `upstreams[]` of kind `anthropic`: the Claude API (or anything that speaks it). */
export interface AnthropicUpstreamConfig {
  name: string;
  kind: 'anthropic';
  baseUrl: string;
  apiKey: string;
  timeouts: UpstreamTimeouts;
}

/** `upstreams[]` of kind `bedrock` (see upstream/bedrock). */
export interface BedrockUpstreamSettings {
  name: string;
  kind: 'bedrock';
  region: string;
  baseUrl?: string;
  auth:
    | { type: 'sigv4'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
    | { type: 'sigv4-default' }
    | { type: 'api-key'; apiKey: string };
  timeouts: UpstreamTimeouts;
  countTokens?: boolean;
  /** Betas never sent to this upstream: names, or prefixes ending in `*`. */
  betas?: { drop?: string[] };
}

/** `upstreams[]` of kind `vertex` (see upstream/vertex). */
export interface VertexUpstreamSettings {
  name: string;
  kind: 'vertex';
  projectId: string;
  region: string;
  baseUrl?: string;
  auth:
    | { type: 'service-account'; credentialsFile: string }
    | { type: 'adc' }
    | { type: 'access-token'; token: string };
  timeouts: UpstreamTimeouts;
}

export type UpstreamConfig = AnthropicUpstreamConfig | BedrockUpstreamSettings | VertexUpstreamSettings;

/** `routing` (see config.schema.json). */
export interface RoutingConfig {
  maxAttemptsPerTarget: number;
  maxAttemptsPerRequest: number;
  deadlineMs: number;
  firstTokenMs: number;
  idleMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  breaker: {
    failureThreshold: number;
    errorRateThreshold: number;
    minRequests: number;
    windowMs: number;
    coolDownMs: number;
  };
}

/** The resolved configuration: references substituted, defaults filled in. */
export interface GatewayConfig {
  server: ServerConfig;
  database: { url?: string };
  auth: AuthConfig;
  upstreams: UpstreamConfig[];
  models: ModelConfig[];
  policies: PolicyConfig[];
  /** Retries, failover and breakers (routing/route.ts `RouterOptions`). */
  routing: RoutingConfig;
  /** What `/managed/settings` adds to the client's environment (handlers/policy.ts `clientEnvironment`). */
  clientEnvironment: { modelDiscovery: boolean; telemetry: boolean };
  log: { level: LogLevel };
}

export type Env = Record<string, string | undefined>;

export interface ParseConfigOptions {
  /** Directory that relative `${file:…}` paths resolve against (the config file's directory); default: cwd. */
  baseDir?: string;
}

/** JSON pointers (with `*` for any array index) of fields that must be secret references. */
const SECRET_FIELDS = [
  '/auth/staticTokens/*/token',
  '/auth/keyEncryptionKey',
  '/auth/previousKeyEncryptionKeys/*',
  '/auth/oidc/clientSecret',
  '/upstreams/*/apiKey',
  '/upstreams/*/auth/secretAccessKey',
  '/upstreams/*/auth/sessionToken',
  '/upstreams/*/auth/apiKey',
  '/upstreams/*/auth/token',
];
const REFERENCE = /\$\{(env|file):([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{(env|file):[^}]+\}$/;
/** The password part of `scheme://user:password@host`. */
const URL_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:([^@/?#]*)@/i;
const MIN_TOKEN_LENGTH = 32;

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true });
const validateSchema = ajv.compile(schema);

/** Reads and parses a config file; relative `${file:…}` references resolve against the file's directory. */
export async function loadConfigFile(path: string, env: Env = process.env): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new GatewayError('ERR_CONFIG_INVALID', `cannot read config file ${path}: ${code}`, { cause: err });
  }
  return parseConfig(text, env, { baseDir: dirname(resolve(path)) });
}

/**
 * Parses and validates a config document.
 *
 * @throws GatewayError `ERR_CONFIG_INVALID` listing every problem as `<field path>: <message>` in `details`.
 * @example
 * const config = parseConfig(yamlText, { OCG_DEV_TOKEN: '…', ANTHROPIC_API_KEY: '…' });
 */
export function parseConfig(
  yamlText: string,
  env: Env = process.env,
  options: ParseConfigOptions = {},
): GatewayConfig {
  const doc = parseDocument(yamlText, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${pos ? `line ${pos.line}, column ${pos.col}` : 'YAML'}: ${e.code}`;
    });
    throw configError(details, 'config is not valid YAML');
  }
  const raw: unknown = doc.toJS() ?? {};
  const issues: string[] = [];

  // Literal secrets are refused before anything is resolved, so the check sees what the file actually says.
  for (const [path, value] of walkStrings(raw, '')) {
    if (SECRET_FIELDS.some((pattern) => matchesPointer(pattern, path)) && !WHOLE_REFERENCE.test(value)) {
      issues.push(
        `${path}: must be a secret reference (\${env:NAME} or \${file:/path}), not a literal value`,
      );
    }
    if (path === '/database/url') {
      const password = URL_PASSWORD.exec(value)?.[1];
      if (password && !password.includes('${')) {
        issues.push(
          `${path}: the password must come from a secret reference (\${env:NAME} or \${file:/path})`,
        );
      }
    }
  }

  const resolved = resolveReferences(raw, '', env, options.baseDir ?? process.cwd(), issues);

  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '' && isObject(resolved)) {
    const database = isObject(resolved.database) ? resolved.database : {};
    resolved.database = { ...database, url: databaseUrl };
  }

  if (!validateSchema(resolved)) {
    // A field whose reference failed to resolve is already reported; its empty stand-in value is not news.
    const unresolved = new Set(issues.map((i) => i.slice(0, i.indexOf(': '))));
    for (const e of validateSchema.errors ?? []) {
      if (!unresolved.has(e.instancePath)) issues.push(describeAjvError(e));
    }
  }
  if (issues.length === 0) {
    const config = resolved as unknown as GatewayConfig;
    issues.push(...semanticChecks(config, env));
    if (issues.length === 0) return config;
  }
  throw configError([...new Set(issues)]);
}

/** Every secret value of a resolved config, for the logger's redaction. */
export function configSecrets(config: GatewayConfig): string[] {
  const secrets = [
    ...config.auth.staticTokens.map((t) => t.token),
    ...config.upstreams.flatMap(upstreamSecrets),
    ...(config.auth.keyEncryptionKey ? [config.auth.keyEncryptionKey] : []),
    ...config.auth.previousKeyEncryptionKeys,
    ...(typeof config.auth.oidc?.clientSecret === 'string' ? [config.auth.oidc.clientSecret] : []),
  ];
  const password = config.database.url ? URL_PASSWORD.exec(config.database.url)?.[1] : undefined;
  if (password) {
    secrets.push(password);
    try {
      secrets.push(decodeURIComponent(password));
    } catch {
      // not percent-encoded
    }
  }
  return secrets.filter((s) => s.length > 0);
}

function upstreamSecrets(u: UpstreamConfig): string[] {
  if (u.kind === 'anthropic') return [u.apiKey];
  const auth = u.auth as Record<string, unknown>;
  return ['secretAccessKey', 'sessionToken', 'apiKey', 'token']
    .map((k) => auth[k])
    .filter((v): v is string => typeof v === 'string');
}

function configError(details: string[], summary = 'invalid configuration'): GatewayError {
  return new GatewayError('ERR_CONFIG_INVALID', `${summary}: ${details.join('; ')}`, { details });
}

function semanticChecks(config: GatewayConfig, env: Env): string[] {
  const issues: string[] = [];
  if (env.NODE_ENV === 'production' && config.auth.staticTokens.length > 0) {
    issues.push(
      '/auth/staticTokens: development bearer tokens are refused under NODE_ENV=production; sign users in with auth.oidc',
    );
  }
  const seen = new Set<string>();
  config.auth.staticTokens.forEach((t, i) => {
    if (t.token.length < MIN_TOKEN_LENGTH) {
      issues.push(
        `/auth/staticTokens/${i}/token: must be at least ${MIN_TOKEN_LENGTH} characters once resolved`,
      );
    }
    if (seen.has(t.token)) issues.push(`/auth/staticTokens/${i}/token: duplicates an earlier token`);
    seen.add(t.token);
  });
  const { auth } = config;
  if (!auth.oidc && auth.staticTokens.length === 0) {
    issues.push(
      '/auth: configure sign-in (auth.oidc with auth.keyEncryptionKey) or at least one static token',
    );
  }
  if (auth.oidc && !auth.keyEncryptionKey) {
    issues.push(
      '/auth/keyEncryptionKey: is required when auth.oidc is set (it encrypts signing keys and IdP tokens)',
    );
  }
  if (auth.oidc) issues.push(...checkOidcConfig(auth.oidc as unknown as SigninOidcConfig));
  for (const [path, text] of [
    ['/auth/keyEncryptionKey', auth.keyEncryptionKey],
    ...auth.previousKeyEncryptionKeys.map((k, i) => [`/auth/previousKeyEncryptionKeys/${i}`, k] as const),
  ] as const) {
    if (text === undefined) continue;
    try {
      parseKekText(text, path);
    } catch (err) {
      issues.push(`${path}: ${(err as Error).message.replace(/^.*?: /, '')}`);
    }
  }
  if (auth.keyRefreshIntervalS >= auth.signingKeyRetirementSkewS) {
    issues.push('/auth/keyRefreshIntervalS: must be below /auth/signingKeyRetirementSkewS');
  }
  issues.push(...checkPolicyConfig({ models: config.models, policies: config.policies }));
  const upstreamNames = new Set<string>();
  config.upstreams.forEach((u, i) => {
    if (upstreamNames.has(u.name)) issues.push(`/upstreams/${i}/name: duplicates an earlier upstream's name`);
    upstreamNames.add(u.name);
    // The Claude API takes every beta and Vertex passes the header on: only a bedrock upstream filters them.
    if (u.kind !== 'bedrock' && (u as { betas?: unknown }).betas !== undefined) {
      issues.push(`/upstreams/${i}/betas: only an upstream of kind bedrock drops betas`);
    }
  });
  config.models.forEach((m, i) => {
    (m.targets ?? []).forEach((t, j) => {
      if (!upstreamNames.has(t.upstream)) {
        issues.push(`/models/${i}/targets/${j}/upstream: no upstream is named "${t.upstream}"`);
      }
    });
  });
  config.upstreams.forEach((u, i) => {
    if (u.baseUrl === undefined) return;
    try {
      const url = new URL(u.baseUrl);
      if (url.search || url.hash || url.username || url.password) {
        issues.push(`/upstreams/${i}/baseUrl: must not carry a query, fragment or credentials`);
      }
    } catch {
      issues.push(`/upstreams/${i}/baseUrl: must be an absolute http(s) URL`);
    }
  });
  return issues;
}

function describeAjvError(e: ErrorObject): string {
  const path = e.instancePath || '/';
  const at = (child: string) => `${e.instancePath}/${child}`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at(String((e.params as { additionalProperty: string }).additionalProperty))}: unknown key`;
    case 'required':
      return `${at(String((e.params as { missingProperty: string }).missingProperty))}: is required`;
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ');
      return `${path}: must be equal to one of the allowed values (${allowed})`;
    }
    case 'maxItems':
      if (e.instancePath === '/upstreams') {
        return `${path}: ${e.message} — this version routes to exactly one upstream (routing and failover between upstreams arrive later)`;
      }
      return `${path}: ${e.message}`;
    default:
      return `${path}: ${e.message ?? 'is invalid'}`;
  }
}

function resolveReferences(
  value: unknown,
  path: string,
  env: Env,
  baseDir: string,
  issues: string[],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (_match, kind: string, name: string) => {
      if (kind === 'env') {
        const v = env[name];
        if (v === undefined || v === '') {
          issues.push(`${path || '/'}: environment variable ${name} is not set`);
          return '';
        }
        return v;
      }
      const file = isAbsolute(name) ? name : resolve(baseDir, name);
      try {
        // A trailing newline is almost always an editor artefact, never part of a token.
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
        issues.push(`${path || '/'}: cannot read secret file ${file} (${code})`);
        return '';
      }
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => resolveReferences(v, `${path}/${i}`, env, baseDir, issues));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = resolveReferences(v, `${path}/${escapePointer(k)}`, env, baseDir, issues);
    }
    return out;
  }
  return value;
}

function* walkStrings(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* walkStrings(value[i], `${path}/${i}`);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) yield* walkStrings(v, `${path}/${escapePointer(k)}`);
  }
}

function matchesPointer(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const q = path.split('/');
  return p.length === q.length && p.every((seg, i) => seg === '*' || seg === q[i]);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
