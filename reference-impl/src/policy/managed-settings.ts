/**
 * `GET /managed/settings`: the Claude Code managed-settings document of the policy that applies to the caller.
 * Serves POLICY-* (shape `{uuid, checksum, settings}`, `ETag` / `If-None-Match` → 304, 404 "no managed policy"
 * distinct from 200 with an empty policy, environment pushed to the client).
 *
 * The checksum is computed exactly the way the Claude Code client computes the `If-None-Match` value it sends from
 * its cached copy (protocol-facts §0): `"sha256:" + hex(SHA-256(JSON.stringify(settings with object keys sorted
 * recursively)))`. Any other serialisation and the client never gets a 304.
 */
import { createHash } from 'node:crypto';
import type { ManagedSettings, PolicyConfig } from './config.ts';

/** Namespace of the policy uuids (a fixed random UUID; never change it, or every client sees new uuids). */
export const POLICY_UUID_NAMESPACE = '37d5514a-ffe3-4774-a186-bf0ab1d2f3af';

export interface ManagedSettingsBody {
  /** Stable per policy name (UUID v5 of the name in {@link POLICY_UUID_NAMESPACE}). */
  uuid: string;
  /** `sha256:<hex>` of the canonical JSON of `settings`. */
  checksum: string;
  settings: ManagedSettings;
}

export type ManagedSettingsResponse =
  | { status: 404 }
  | { status: 200; etag: string; body: ManagedSettingsBody };

/** Where the gateway points the client, for {@link withGatewayEnvironment}. */
export interface GatewayEnvironment {
  /** The gateway's public base URL, as the client knows it (no trailing slash needed). */
  baseUrl: string;
  /** Push `CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1` so the client lists `/v1/models`. */
  modelDiscovery: boolean;
  /** Push the OTLP exporter variables so the client sends its telemetry to the gateway. */
  otlp: boolean;
}

export interface ManagedSettingsOptions {
  /** When set, the settings get the gateway's environment ({@link withGatewayEnvironment}) before the checksum. */
  environment?: GatewayEnvironment;
}

/**
 * The `/managed/settings` answer for the policy that applies to the caller (`null`: none applies).
 *
 * - no policy, or a policy without `managedSettings` (absent or `null`) → `{ status: 404 }` ("no managed policy");
 * - otherwise `{ status: 200, etag, body: { uuid, checksum, settings } }`, also for `{}` (an empty policy is a policy).
 *
 * @example
 * const r = managedSettingsResponse(resolvePolicy(config.policies, principal));
 * if (r.status === 200 && matchesIfNoneMatch(req.headers['if-none-match'], r.etag)) // → 304 with ETag r.etag
 */
export function managedSettingsResponse(
  policy: Pick<PolicyConfig, 'name' | 'managedSettings'> | null,
  options: ManagedSettingsOptions = {},
): ManagedSettingsResponse {
  if (policy === null || policy.managedSettings === undefined || policy.managedSettings === null) {
    return { status: 404 };
  }
  const settings = options.environment
    ? withGatewayEnvironment(policy.managedSettings, options.environment)
    : policy.managedSettings;
  const checksum = settingsChecksum(settings);
  return { status: 200, etag: `"${checksum}"`, body: { uuid: policyUuid(policy.name), checksum, settings } };
}

/**
 * The settings' JSON with object keys sorted recursively (arrays keep their order), built the way the client does:
 * sorted copies of the objects handed to `JSON.stringify`. That keeps JavaScript's own key order rules — integer-like
 * keys (`"10"`, `"9"`) come out in numeric order whatever the sort says — so the result is byte-identical to the
 * client's.
 */
export function canonicalSettingsJson(settings: unknown): string {
  return JSON.stringify(sortKeysDeep(settings));
}

/** `sha256:<hex>` of {@link canonicalSettingsJson}. */
export function settingsChecksum(settings: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalSettingsJson(settings), 'utf8').digest('hex')}`;
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    // Object.fromEntries defines own properties, so a `__proto__` key stays data instead of setting the prototype.
    return Object.fromEntries(
      Object.keys(source)
        .sort()
        .map((key) => [key, sortKeysDeep(source[key])]),
    );
  }
  return value;
}

/**
 * A UUID (RFC 9562 version 5: SHA-1 of namespace and name) for a policy name: stable across restarts and replicas,
 * different for every name.
 */
export function policyUuid(name: string, namespace: string = POLICY_UUID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replaceAll('-', ''), 'hex');
  if (ns.length !== 16) throw new TypeError(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // variant 10xx (RFC 4122/9562)
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One entity tag of an `If-None-Match` list. */
const ENTITY_TAG = /^\s*(W\/)?"([^"]*)"\s*(?:,|$)/;

/**
 * Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2: weak comparison, so `W/"x"` matches `"x"`).
 * Understands `*`, comma-separated lists, repeated headers (an array) and, leniently, a bare unquoted tag such as
 * `sha256:…` (it can only match the exact checksum). A malformed header matches nothing, so the client gets a 200.
 *
 * @param header the raw header value(s), e.g. `req.headers['if-none-match']`
 * @param etag the current strong ETag, e.g. `"sha256:…"`
 */
export function matchesIfNoneMatch(header: string | readonly string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = typeof header === 'string' ? header : header.join(',');
  if (value.trim() === '*') return true;
  const current = opaqueTag(etag);
  for (const tag of parseEntityTags(value)) {
    if (tag === current) return true;
  }
  return false;
}

function parseEntityTags(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed === '') return [];
  if (!trimmed.includes('"')) {
    // Lenient: some clients send the tag unquoted. Commas separate tags; the checksum itself never contains one.
    return trimmed
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .filter((t) => t !== '');
  }
  const tags: string[] = [];
  let rest = value;
  while (rest.trim() !== '') {
    const m = ENTITY_TAG.exec(rest);
    if (m === null) return tags; // malformed from here on: keep what parsed cleanly
    tags.push(m[2] as string);
    rest = rest.slice(m[0].length);
  }
  return tags;
}

/** The opaque part of an entity tag: `W/"x"` and `"x"` → `x`; a bare value is taken as is. */
function opaqueTag(etag: string): string {
  const m = /^(?:W\/)?"([^"]*)"$/.exec(etag.trim());
  return m ? (m[1] as string) : etag.trim();
}

/** Environment variables {@link withGatewayEnvironment} adds, for a base URL and switches. */
export function gatewayEnvironmentVariables(environment: GatewayEnvironment): Record<string, string> {
  const vars: Record<string, string> = {};
  if (environment.modelDiscovery) vars.CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY = '1';
  if (environment.otlp) {
    vars.CLAUDE_CODE_ENABLE_TELEMETRY = '1';
    // The OTLP/HTTP exporter appends /v1/metrics, /v1/logs, /v1/traces to this endpoint.
    vars.OTEL_EXPORTER_OTLP_ENDPOINT = environment.baseUrl.replace(/\/+$/, '');
    vars.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    vars.OTEL_METRICS_EXPORTER = 'otlp';
    vars.OTEL_LOGS_EXPORTER = 'otlp';
  }
  return vars;
}

/**
 * A copy of `settings` whose `env` also carries the gateway's client environment: model discovery
 * (`CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`) and the OTLP exporter pointed at the gateway
 * (`CLAUDE_CODE_ENABLE_TELEMETRY`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`,
 * `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER=otlp`). `settings` is not modified.
 *
 * A variable the operator set in the policy's `env` is never overridden: these are the gateway's defaults, the
 * policy is the operator's explicit decision, and the policy wins over defaults (e.g. a policy that sets
 * `OTEL_METRICS_EXPORTER: none` for a group keeps its metrics off even when the gateway enables OTLP).
 */
export function withGatewayEnvironment(
  settings: ManagedSettings,
  environment: GatewayEnvironment,
): ManagedSettings {
  const added = gatewayEnvironmentVariables(environment);
  if (Object.keys(added).length === 0) return settings;
  const env = settings.env !== null && typeof settings.env === 'object' ? settings.env : {};
  return { ...settings, env: { ...added, ...env } };
}
