/**
 * Provider model ids → the gateway's catalogue (PASSTHROUGH-2).
 *
 * A client configured for Bedrock or Vertex names models the way that provider does
 * (`us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `claude-sonnet-4-5@20250929`), and the gateway has to find the
 * catalogue model it means before the allowlist runs, so policy, routing and records all see the catalogue id. The
 * rule, in order:
 *
 * 1. **A target's provider id.** A catalogue model one of whose `targets[].model` equals the id (exactly, then with
 *    both sides stripped of the decoration below, so a target `anthropic.claude-…-v1:0` also matches a request
 *    for `us.anthropic.claude-…-v1:0`). The operator said which provider model serves it; that is the most
 *    reliable link.
 * 2. **The stripped id as a catalogue id or alias.** Decoration removed: an ARN's resource prefix
 *    (`arn:aws:bedrock:…:inference-profile/` or `…:foundation-model/`), a cross-region prefix (`us.`, `eu.`, `apac.`,
 *    `jp.`, `au.`, `ca.`, `us-gov.`, `global.`), the `anthropic.` vendor prefix, a `-vN` / `-vN:M` version suffix
 *    (Bedrock); `@YYYYMMDD` read as `-YYYYMMDD` (Vertex). Then `claude-sonnet-4-5-20250929` resolves as the
 *    catalogue id or alias it is; if the dated id is not in the catalogue, the undated one is tried
 *    (`claude-sonnet-4-5`).
 * 3. Otherwise the stripped id is returned as is: the allowlist refuses it as not offered, naming what the client
 *    asked for in the Anthropic spelling.
 */
import type { ModelCatalogue } from '../policy/models.ts';

/** The part of a `models[]` entry this module reads (`targets` arrives with the routing config). */
export interface CatalogueEntryConfig {
  id: string;
  targets?: ReadonlyArray<{ upstream: string; model?: string }>;
}

export type Provider = 'bedrock' | 'vertex';

const GEO_PREFIX = /^(?:us-gov|us|eu|apac|jp|au|ca|global)\./;
const DATE_SUFFIX = /-\d{8}$/;

/** The provider id without provider decoration, in the Anthropic spelling. */
export function stripProviderDecoration(provider: Provider, id: string): string {
  let name = id.trim();
  if (provider === 'bedrock') {
    if (name.startsWith('arn:')) name = name.slice(name.lastIndexOf('/') + 1);
    name = name.replace(GEO_PREFIX, '');
    name = name.replace(/^anthropic\./, '');
    name = name.replace(/-v\d+(?::\d+)?$/, '');
  } else {
    name = name.replace(/@(\d{8})$/, '-$1');
  }
  return name;
}

/**
 * The catalogue id (or, when nothing matches, the stripped id for the allowlist to refuse) for a provider model id.
 *
 * @param models the config's `models[]` (for their `targets`); @param catalogue resolves ids and aliases.
 */
export function mapProviderModel(
  provider: Provider,
  id: string,
  models: readonly CatalogueEntryConfig[],
  catalogue: ModelCatalogue,
): string {
  const stripped = stripProviderDecoration(provider, id);
  for (const exact of [true, false]) {
    for (const model of models) {
      for (const target of model.targets ?? []) {
        if (typeof target.model !== 'string') continue;
        const hit = exact
          ? target.model === id
          : stripProviderDecoration(provider, target.model) === stripped;
        if (hit) return catalogue.resolve(model.id) ?? model.id;
      }
    }
  }
  const direct = catalogue.resolve(stripped);
  if (direct !== null) return direct;
  if (DATE_SUFFIX.test(stripped)) {
    const undated = catalogue.resolve(stripped.replace(DATE_SUFFIX, ''));
    if (undated !== null) return undated;
  }
  return stripped;
}
