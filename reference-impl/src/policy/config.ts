/**
 * Config types of the `models` catalogue and the `policies` list (schema: `config.fragment.json` beside this file),
 * and the checks JSON Schema cannot express. Serves POLICY-* and MODELS-* (ids, aliases, allowlists).
 *
 * Every message has the config loader's shape, `<field path>: <problem>`, and never prints secret values (nothing
 * here is secret: model ids and policy names).
 */

/** One model of the catalogue (`models[]`). */
export interface ModelConfig {
  /** Canonical Anthropic-style id, e.g. `claude-sonnet-4-5-20250929`. */
  id: string;
  /** `display_name` in `/v1/models`, e.g. `Claude Sonnet 4.5`. */
  displayName: string;
  /** Other names that resolve to `id`, e.g. `claude-sonnet-4-5`. */
  aliases?: string[];
  /** RFC 3339 release time; default: from a trailing `-YYYYMMDD` in the id, else the epoch. */
  createdAt?: string;
  /** Where requests for this model go, in failover order; default: the first upstream with `id` (ROUTING-*). */
  targets?: ModelTarget[];
}

/** One place a model is served: an upstream (by name) and that provider's model id. */
export interface ModelTarget {
  upstream: string;
  /** The model id at that provider; default the catalogue id. */
  model?: string;
  weight?: number;
}

/** Whom a policy applies to; at least one key. */
export interface PolicyMatch {
  /** Emails (case-insensitive) or IdP subjects (exact). */
  users?: string[];
  /** IdP groups after claim mapping (exact). */
  groups?: string[];
  /** Email domains (case-insensitive, exact: no subdomains). */
  emailDomains?: string[];
  /** Every signed-in user. */
  everyone?: true;
}

/** A Claude Code managed-settings document. Its keys belong to the client; `env` values are strings. */
export type ManagedSettings = { env?: Record<string, string> } & Record<string, unknown>;

/** One policy (`policies[]`). */
export interface PolicyConfig {
  name: string;
  match: PolicyMatch;
  /** `{}` = an empty policy (200); `null` or absent = no managed settings (404). */
  managedSettings?: ManagedSettings | null;
  /** Allowlist: catalogue ids or aliases, or `'*'` for the whole catalogue. */
  models: string[];
}

/** The two top-level config keys this module owns, defaults filled in. */
export interface PolicyConfigSection {
  models: ModelConfig[];
  policies: PolicyConfig[];
}

/** The allowlist entry that stands for the whole catalogue. */
export const ALL_MODELS = '*';

/**
 * Ids and aliases must be unique across the whole catalogue (an alias may not repeat its own id either); a
 * `createdAt` must be a real date.
 *
 * @returns one message per problem, naming both places, e.g.
 *   `/models/1/aliases/0: 'claude-sonnet-4-5' is already used at /models/0/aliases/0`; `[]` when the catalogue is fine.
 */
export function checkCatalogue(models: readonly ModelConfig[]): string[] {
  const issues: string[] = [];
  const seen = new Map<string, string>();
  const claim = (name: string, path: string) => {
    const earlier = seen.get(name);
    if (earlier === undefined) seen.set(name, path);
    else
      issues.push(`${path}: '${name}' is already used at ${earlier} (model ids and aliases must be unique)`);
  };
  models.forEach((model, i) => {
    claim(model.id, `/models/${i}/id`);
    (model.aliases ?? []).forEach((alias, j) => {
      claim(alias, `/models/${i}/aliases/${j}`);
    });
    if (model.createdAt !== undefined && Number.isNaN(Date.parse(model.createdAt))) {
      issues.push(`/models/${i}/createdAt: '${model.createdAt}' is not a valid RFC 3339 date-time`);
    }
  });
  return issues;
}

/**
 * Policy names must be unique (the managed-settings uuid derives from the name) and every allowlist entry must be
 * `'*'` or an id or alias of the catalogue.
 *
 * @returns one message per problem, e.g. `/policies/1/models/0: policy 'eng' allows 'claude-x', which is not a model
 *   id or alias in /models`.
 */
export function checkPolicies(policies: readonly PolicyConfig[], models: readonly ModelConfig[]): string[] {
  const issues: string[] = [];
  const known = new Set<string>();
  for (const model of models) {
    known.add(model.id);
    for (const alias of model.aliases ?? []) known.add(alias);
  }
  const names = new Map<string, number>();
  policies.forEach((policy, i) => {
    const earlier = names.get(policy.name);
    if (earlier === undefined) names.set(policy.name, i);
    else {
      issues.push(
        `/policies/${i}/name: policy name '${policy.name}' is already used at /policies/${earlier}/name (policy names must be unique)`,
      );
    }
    policy.models.forEach((entry, j) => {
      if (entry !== ALL_MODELS && !known.has(entry)) {
        issues.push(
          `/policies/${i}/models/${j}: policy '${policy.name}' allows '${entry}', which is not a model id or alias in /models`,
        );
      }
    });
  });
  return issues;
}

/** All checks of this section: {@link checkCatalogue} then {@link checkPolicies}. The config loader calls this. */
export function checkPolicyConfig(config: PolicyConfigSection): string[] {
  return [...checkCatalogue(config.models), ...checkPolicies(config.policies, config.models)];
}
