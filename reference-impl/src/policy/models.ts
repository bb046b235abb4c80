/**
 * The model catalogue, the per-policy allowlist and `/v1/models` paging. Serves MODELS-* (Anthropic-style ids and
 * display names, the list filtered to what the caller may use, aliases resolved the same way everywhere) and the
 * allowlist part of POLICY-* (a missing, unknown or denied model is `400 invalid_request_error` naming the rule).
 *
 * Aliases: an alias resolves to its canonical id in requests, in allowlists (allowing an alias allows the canonical
 * model and every alias of it) and in paging cursors; lists show canonical ids only.
 */
import { GatewayError } from '../errors.ts';
import { ALL_MODELS, checkCatalogue, type ModelConfig, type PolicyConfig } from './config.ts';

/** A catalogue entry with every default resolved. */
export interface CatalogueModel {
  id: string;
  displayName: string;
  aliases: readonly string[];
  /** RFC 3339. */
  createdAt: string;
}

export interface ModelCatalogue {
  /** Canonical id for an id or alias, `null` when the catalogue has neither. */
  resolve(idOrAlias: string): string | null;
  /** Every model, in config order. */
  list(): readonly CatalogueModel[];
  /** The model for an id or alias, `null` when unknown. */
  get(idOrAlias: string): CatalogueModel | null;
}

/** The parts of a policy the allowlist reads. */
export type ModelPolicy = Pick<PolicyConfig, 'name' | 'models'>;

/** One `/v1/models` entry. */
export interface ModelInfo {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

export interface ModelsPage {
  data: ModelInfo[];
  /** More results exist in the requested direction (after the page, or before it with `beforeId`). */
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export interface ListModelsOptions {
  /** Page size, 1..1000, default 20; a query-string value is accepted as is. */
  limit?: number | string;
  /** Return the page right after this id (exclusive). */
  afterId?: string;
  /** Return the page right before this id (exclusive). */
  beforeId?: string;
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 1000;
const EPOCH = '1970-01-01T00:00:00Z';
const DATE_SUFFIX = /-(\d{4})(\d{2})(\d{2})$/;
/** Longest requested model name echoed in an error message. */
const ECHO_LIMIT = 128;

/**
 * Builds the catalogue from the `models` config.
 *
 * @throws GatewayError `ERR_CONFIG_INVALID` when ids or aliases collide ({@link checkCatalogue}).
 * @example
 * const catalogue = createModelCatalogue([{ id: 'claude-sonnet-4-5-20250929', displayName: 'Claude Sonnet 4.5', aliases: ['claude-sonnet-4-5'] }]);
 * catalogue.resolve('claude-sonnet-4-5'); // → 'claude-sonnet-4-5-20250929'
 */
export function createModelCatalogue(models: readonly ModelConfig[]): ModelCatalogue {
  const issues = checkCatalogue(models);
  if (issues.length > 0) {
    throw new GatewayError('ERR_CONFIG_INVALID', `invalid configuration: ${issues.join('; ')}`, {
      details: issues,
    });
  }
  const entries: CatalogueModel[] = models.map((m) =>
    Object.freeze({
      id: m.id,
      displayName: m.displayName,
      aliases: Object.freeze([...(m.aliases ?? [])]),
      createdAt: m.createdAt ?? createdAtFromId(m.id),
    }),
  );
  const byName = new Map<string, CatalogueModel>();
  for (const entry of entries) {
    byName.set(entry.id, entry);
    for (const alias of entry.aliases) byName.set(alias, entry);
  }
  Object.freeze(entries);
  return {
    resolve: (idOrAlias) => byName.get(idOrAlias)?.id ?? null,
    list: () => entries,
    get: (idOrAlias) => byName.get(idOrAlias) ?? null,
  };
}

function createdAtFromId(id: string): string {
  const m = DATE_SUFFIX.exec(id);
  if (m) {
    const iso = `${m[1]}-${m[2]}-${m[3]}T00:00:00Z`;
    if (!Number.isNaN(Date.parse(iso))) return iso;
  }
  return EPOCH;
}

/**
 * Canonical ids the policy allows, in catalogue order, without duplicates. `'*'` is the whole catalogue; an alias
 * allows its canonical model; `null` (no policy) allows nothing. Entries not in the catalogue (refused at boot by
 * `checkPolicies`) allow nothing.
 */
export function allowedModels(catalogue: ModelCatalogue, policy: ModelPolicy | null): string[] {
  if (policy === null) return [];
  if (policy.models.includes(ALL_MODELS)) return catalogue.list().map((m) => m.id);
  const allowed = new Set<string>();
  for (const entry of policy.models) {
    const id = catalogue.resolve(entry);
    if (id !== null) allowed.add(id);
  }
  return catalogue
    .list()
    .map((m) => m.id)
    .filter((id) => allowed.has(id));
}

/**
 * The allowlist check for `POST /v1/messages` and `count_tokens`: returns the canonical id of the requested model,
 * or throws a `400 invalid_request_error` whose message names the rule that refused it. Checked in this order:
 *
 * 1. `model` missing, empty or not a string → `ERR_MODEL_REQUIRED` "model is required";
 * 2. no policy applies → `ERR_NO_POLICY` "no policy grants you any model";
 * 3. not an id or alias of the catalogue → `ERR_MODEL_UNKNOWN` "model 'x' is not offered by this gateway";
 * 4. not in the policy's allowlist → `ERR_MODEL_DENIED` "model 'x' is not allowed by policy 'eng' (allowed: a, b)".
 *
 * @param requestedModel the request body's `model`, unvalidated
 */
export function checkModelAllowed(
  catalogue: ModelCatalogue,
  policy: ModelPolicy | null,
  requestedModel: unknown,
): string {
  if (typeof requestedModel !== 'string' || requestedModel === '') {
    const detail = requestedModel === undefined || requestedModel === '' ? '' : ' (a string model id)';
    throw new GatewayError('ERR_MODEL_REQUIRED', `model is required${detail}`);
  }
  if (policy === null) {
    throw new GatewayError('ERR_NO_POLICY', 'no policy grants you any model');
  }
  const id = catalogue.resolve(requestedModel);
  if (id === null) {
    throw new GatewayError(
      'ERR_MODEL_UNKNOWN',
      `model '${echo(requestedModel)}' is not offered by this gateway`,
    );
  }
  const allowed = allowedModels(catalogue, policy);
  if (!allowed.includes(id)) {
    const list = allowed.length > 0 ? allowed.join(', ') : 'none';
    throw new GatewayError(
      'ERR_MODEL_DENIED',
      `model '${echo(requestedModel)}' is not allowed by policy '${policy.name}' (allowed: ${list})`,
    );
  }
  return id;
}

/** The requested name as echoed in a message: bounded, so a huge `model` cannot bloat the error. */
function echo(name: string): string {
  return name.length > ECHO_LIMIT ? `${name.slice(0, ECHO_LIMIT)}…` : name;
}

/**
 * One page of `GET /v1/models`: the allowed models in catalogue order, Anthropic paging semantics.
 *
 * - `limit` 1..1000 (default 20); anything else → `400 invalid_request_error`;
 * - `afterId`: the `limit` models right after it; `beforeId`: the `limit` models right before it (both exclusive,
 *   both resolve aliases); a cursor that is not in the caller's list, or both cursors at once → 400;
 * - `has_more`: more models exist in the requested direction; `first_id` / `last_id`: the page's ends, `null` when
 *   the page is empty.
 *
 * @param allowedIds what the caller may use (e.g. {@link allowedModels}); aliases are resolved, order is ignored.
 */
export function listModelsPage(
  catalogue: ModelCatalogue,
  allowedIds: readonly string[],
  options: ListModelsOptions = {},
): ModelsPage {
  const limit = parseLimit(options.limit);
  const allowed = new Set<string>();
  for (const name of allowedIds) {
    const id = catalogue.resolve(name);
    if (id !== null) allowed.add(id);
  }
  const models = catalogue.list().filter((m) => allowed.has(m.id));

  if (options.afterId !== undefined && options.beforeId !== undefined) {
    throw new GatewayError('ERR_INVALID_REQUEST', 'after_id and before_id cannot be used together');
  }
  let page: CatalogueModel[];
  let hasMore: boolean;
  if (options.beforeId !== undefined) {
    const end = cursorIndex(catalogue, models, options.beforeId, 'before_id');
    const start = Math.max(0, end - limit);
    page = models.slice(start, end);
    hasMore = start > 0;
  } else {
    const start =
      options.afterId === undefined ? 0 : cursorIndex(catalogue, models, options.afterId, 'after_id') + 1;
    page = models.slice(start, start + limit);
    hasMore = start + limit < models.length;
  }
  return {
    data: page.map((m) => ({
      type: 'model',
      id: m.id,
      display_name: m.displayName,
      created_at: m.createdAt,
    })),
    has_more: hasMore,
    first_id: page[0]?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
  };
}

function parseLimit(raw: number | string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_LIMIT;
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_LIMIT) {
    throw new GatewayError('ERR_INVALID_REQUEST', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return n;
}

function cursorIndex(
  catalogue: ModelCatalogue,
  models: readonly CatalogueModel[],
  cursor: string,
  param: 'after_id' | 'before_id',
): number {
  const id = catalogue.resolve(cursor);
  const index = id === null ? -1 : models.findIndex((m) => m.id === id);
  if (index === -1) {
    throw new GatewayError('ERR_INVALID_REQUEST', `${param} '${echo(cursor)}' is not a model in this list`);
  }
  return index;
}
