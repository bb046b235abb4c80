/**
 * Shared pieces of the policy, models and admin cases: the managed-settings checksum as the Claude Code client
 * computes it, reading `/managed/settings` and `/v1/models` as a given user, comparing settings with the fixture's
 * (allowing the client environment a gateway MAY push, POLICY-5), and admin requests with either credential.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { expectThat, fail } from '../../errors.ts';
import type { MockIdpUser } from '../../mocks/idp/index.ts';
import type { GatewayResponse } from '../../runner/client.ts';
import type { CaseContext } from '../../runner/types.ts';
import type { TokenSet } from '../../signin/driver.ts';

/** A copy of `value` whose objects have their keys sorted, recursively (arrays keep their order). */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = sortKeysDeep((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/**
 * The checksum the Claude Code client computes from its cached copy and sends back in `If-None-Match`: `sha256:`
 * + hex SHA-256 of `JSON.stringify(settings)` with object keys sorted recursively (protocol-facts §0).
 */
export function settingsChecksum(settings: unknown): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(sortKeysDeep(settings)))
    .digest('hex')}`;
}

export interface ManagedSettingsBody {
  uuid: string;
  checksum: string;
  settings: Record<string, unknown>;
}

export interface SettingsAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed body of a 200 (undefined otherwise). */
  body: ManagedSettingsBody | undefined;
  /** `error.type` of an error envelope. */
  errorType: string | undefined;
}

/** `GET /managed/settings` as the holder of `token` (optionally with `If-None-Match`). */
export async function getSettings(
  ctx: CaseContext,
  token: string,
  ifNoneMatch?: string,
): Promise<SettingsAnswer> {
  const res = await ctx.client.send({
    operationId: 'getManagedSettings',
    path: '/managed/settings',
    bearer: token,
    headers: ifNoneMatch === undefined ? [] : [['if-none-match', ifNoneMatch]],
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const errorType = (parsed as { error?: { type?: unknown } } | undefined)?.error?.type;
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: res.status === 200 ? (parsed as ManagedSettingsBody) : undefined,
    errorType: typeof errorType === 'string' ? errorType : undefined,
  };
}

/** `GET /managed/settings` that must answer 200 with the documented shape. */
export async function expectSettings(ctx: CaseContext, token: string, what: string): Promise<SettingsAnswer> {
  const answer = await getSettings(ctx, token);
  expectThat(
    answer.status === 200,
    `${what}: GET /managed/settings answered ${answer.status}, expected 200`,
    {
      body: answer.text.slice(0, 1000),
    },
  );
  const body = answer.body;
  expectThat(
    body !== undefined &&
      typeof body.uuid === 'string' &&
      typeof body.checksum === 'string' &&
      typeof body.settings === 'object' &&
      body.settings !== null &&
      !Array.isArray(body.settings),
    `${what}: the answer is not {uuid, checksum, settings}`,
    { body: answer.text.slice(0, 1000) },
  );
  return answer;
}

/** The managed settings the fixture gives a policy group (`developers`, `restricted`, `emptySettings`). */
export function fixtureSettings(ctx: CaseContext, policyName: string): Record<string, unknown> | null {
  const policy = ctx.policy.policies.find((p) => p.name === policyName);
  if (!policy) return fail(`kit bug: the policy fixture has no policy ${policyName}`);
  return policy.managedSettings;
}

/**
 * Fails unless `actual` is the fixture's `expected` settings, give or take client environment the gateway added to
 * `env` (POLICY-5: string values under names the policy does not set). Returns the names the gateway added.
 */
export function expectSettingsOf(
  actual: Record<string, unknown>,
  expected: Record<string, unknown>,
  what: string,
) {
  const { env: actualEnv, ...actualRest } = actual;
  const { env: expectedEnv, ...expectedRest } = expected;
  expectThat(isDeepStrictEqual(actualRest, expectedRest), `${what}: the settings are not the policy's`, {
    expected,
    actual,
  });
  if (actualEnv === undefined) {
    expectThat(expectedEnv === undefined, `${what}: the policy's env is missing from the settings`, {
      expected,
      actual,
    });
    return [];
  }
  expectThat(
    actualEnv !== null && typeof actualEnv === 'object' && !Array.isArray(actualEnv),
    `${what}: settings.env is not an object`,
    { actual },
  );
  const got = actualEnv as Record<string, unknown>;
  const want = (expectedEnv ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(want)) {
    expectThat(
      got[name] === value,
      `${what}: settings.env.${name} should be the policy's ${JSON.stringify(value)}`,
      {
        expected,
        actual,
      },
    );
  }
  const added = Object.keys(got).filter((name) => !(name in want));
  for (const name of added) {
    expectThat(
      typeof got[name] === 'string',
      `${what}: settings.env.${name}, pushed by the gateway, is not a string`,
      { actual },
    );
  }
  return added;
}

export interface ModelEntry {
  type: string;
  id: string;
  display_name: string;
  created_at?: string;
}

export interface ModelPage {
  data: ModelEntry[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/** `GET /v1/models<query>` as the holder of `token`; must answer 200. */
export async function listModels(ctx: CaseContext, token: string, query = '?limit=1000'): Promise<ModelPage> {
  const res = await ctx.client.send({ operationId: 'listModels', path: `/v1/models${query}`, bearer: token });
  const text = await res.text();
  expectThat(res.status === 200, `GET /v1/models${query} answered ${res.status}, expected 200`, {
    body: text.slice(0, 1000),
  });
  const page = JSON.parse(text) as ModelPage;
  expectThat(Array.isArray(page.data), `GET /v1/models${query}: data is not a list`, { body: page });
  const ids = page.data.map((m) => m.id);
  expectThat(
    page.first_id === (ids[0] ?? null) && page.last_id === (ids.at(-1) ?? null),
    `GET /v1/models${query}: first_id/last_id (${page.first_id}, ${page.last_id}) do not name the page's first and last models`,
    { ids },
  );
  return page;
}

/** The ids `/v1/models` lists for the holder of `token` (one page of up to 1000). */
export async function listedIds(ctx: CaseContext, token: string): Promise<string[]> {
  const page = await listModels(ctx, token);
  expectThat(!page.has_more, 'GET /v1/models?limit=1000 says has_more with fewer than 1000 models');
  return page.data.map((m) => m.id);
}

/** A user of `group` (or of none) created at the IdP and signed in. */
export async function signedIn(
  ctx: CaseContext,
  groups: readonly string[],
): Promise<{ user: MockIdpUser; tokens: TokenSet }> {
  const user = ctx.idp.createUser({ groups: [...groups] });
  return { user, tokens: await ctx.signIn(user) };
}

/** A small Messages request body for `model` (omitted when `model` is null). */
export function probeMessage(ctx: CaseContext, model: string | null): Record<string, unknown> {
  return {
    ...(model === null ? {} : { model }),
    max_tokens: 16,
    messages: [{ role: 'user', content: `policy probe ${ctx.rng.string(10)}` }],
  };
}

/** `POST /v1/messages` (or count_tokens) as the holder of `token`; returns status, error type/message and body. */
export async function sendMessage(
  ctx: CaseContext,
  token: string,
  body: unknown,
  endpoint: 'messages' | 'count_tokens' = 'messages',
): Promise<{ status: number; errorType: string | undefined; message: string; text: string }> {
  const res = await ctx.client.send({
    operationId: endpoint === 'messages' ? 'createMessage' : 'countMessageTokens',
    path: endpoint === 'messages' ? '/v1/messages' : '/v1/messages/count_tokens',
    bearer: token,
    body,
  });
  const text = await res.text();
  return { status: res.status, ...errorOf(text), text };
}

/** `error.type` and `error.message` of an Anthropic error envelope (empty when the text is not one). */
export function errorOf(text: string): { errorType: string | undefined; message: string } {
  try {
    const body = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } };
    return {
      errorType: typeof body.error?.type === 'string' ? body.error.type : undefined,
      message: typeof body.error?.message === 'string' ? body.error.message : '',
    };
  } catch {
    return { errorType: undefined, message: '' };
  }
}

/** The credential of an admin request: a gateway access token (Authorization) or an admin API key (x-api-key). */
export type AdminCredential = { bearer: string } | { apiKey: string } | null;

export interface AdminAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
  errorType: string | undefined;
}

/** One admin operation with `credential` (none: no credential at all). */
export async function admin(
  ctx: CaseContext,
  credential: AdminCredential,
  operationId: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const res: GatewayResponse = await ctx.client.send({
    operationId,
    method,
    path,
    bearer: credential !== null && 'bearer' in credential ? credential.bearer : null,
    headers: [
      ...(credential !== null && 'apiKey' in credential
        ? [['x-api-key', credential.apiKey] as [string, string]]
        : []),
      // A body-less POST says so, as fetch and curl do (node would otherwise send it chunked, which ERRORS-5 lets a
      // gateway refuse with 411).
      ...(body === undefined && method !== 'GET' ? [['content-length', '0'] as [string, string]] : []),
    ],
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, errorType: errorOf(text).errorType };
}

/** Fails unless `answer` has `status` (and, for an error, the envelope's `error.type`). */
export function expectAdmin(
  answer: AdminAnswer,
  status: number,
  errorType: string | null,
  what: string,
): void {
  expectThat(
    answer.status === status && (errorType === null || answer.errorType === errorType),
    `${what}: expected ${status}${errorType ? ` ${errorType}` : ''}, got ${answer.status} ${answer.errorType ?? ''}`.trim(),
    { body: answer.json === undefined ? answer.text.slice(0, 500) : redactKey(answer.json) },
  );
}

/** A copy of an admin answer with any `key` (an admin API key's secret) replaced by its length, for reports. */
export function redactKey(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  if (typeof copy.key === 'string') copy.key = `<${copy.key.length} characters>`;
  return copy;
}
