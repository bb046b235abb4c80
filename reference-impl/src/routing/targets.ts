/**
 * Model routes: each client-facing model id maps to an ordered list of targets — an
 * upstream plus that upstream's id for the model — tried in order (the order is the priority). A leading run of
 * targets that carry a `weight` is the first tier: each request orders that tier by weighted random choice, which
 * spreads load among equally preferred targets; the rest keep their listed order.
 *
 * A route for model `*` serves every model that has no route of its own (the single-upstream default: the target's
 * `model` absent means "the client's canonical model id as it is").
 */
import type { Upstream } from '../upstream/anthropic.ts';

export interface RouteTarget {
  upstream: Upstream;
  /** The model id at this upstream (e.g. `anthropic.claude-sonnet-4-5-20250929-v1:0`); absent: the client's id. */
  model?: string;
  /** Relative share among the first tier (see the module doc); must be > 0 when given. */
  weight?: number;
}

export interface Route {
  /** The canonical client-facing model id (what `/v1/models` lists), or `*`. */
  model: string;
  targets: readonly RouteTarget[];
}

/** The stable key of a target: its breaker and its admin health row. */
export function targetKey(target: RouteTarget, clientModel: string): string {
  return `${target.upstream.name}/${target.model ?? clientModel}`;
}

/** Finds the route for a canonical model id (exact, then `*`). */
export function findRoute(routes: readonly Route[], model: string): Route | undefined {
  return routes.find((r) => r.model === model) ?? routes.find((r) => r.model === '*');
}

/**
 * The order in which one request tries a route's targets: the weighted first tier shuffled by weight (sampling
 * without replacement), then the remaining targets in listed order.
 *
 * @param random a source in [0, 1) (injectable for tests)
 */
export function orderTargets(
  targets: readonly RouteTarget[],
  random: () => number = Math.random,
): RouteTarget[] {
  let tierEnd = 0;
  while (tierEnd < targets.length && (targets[tierEnd]?.weight ?? 0) > 0) tierEnd++;
  const tier = targets.slice(0, tierEnd);
  const rest = targets.slice(tierEnd);
  const ordered: RouteTarget[] = [];
  while (tier.length > 0) {
    const total = tier.reduce((sum, t) => sum + (t.weight ?? 0), 0);
    let pick = random() * total;
    let i = 0;
    for (; i < tier.length - 1; i++) {
      pick -= tier[i]?.weight ?? 0;
      if (pick < 0) break;
    }
    ordered.push(...tier.splice(i, 1));
  }
  return [...ordered, ...rest];
}

/** Problems with a route table, one readable line each (for config validation at boot). */
export function routeProblems(routes: readonly Route[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of routes) {
    if (seen.has(r.model)) problems.push(`route for model '${r.model}' is defined twice`);
    seen.add(r.model);
    if (r.targets.length === 0) problems.push(`route for model '${r.model}' has no targets`);
    r.targets.forEach((t, i) => {
      if (t.weight !== undefined && !(t.weight > 0 && Number.isFinite(t.weight))) {
        problems.push(`route for model '${r.model}' target ${i}: weight must be a positive number`);
      }
    });
  }
  return problems;
}

/** The shape of `config.models[]` the routes are built from (policy/config.ts `ModelConfig`). */
export interface ModelRouteConfig {
  id: string;
  targets?: ReadonlyArray<{ upstream: string; model?: string; weight?: number }>;
}

/**
 * The route table for a config: each model's `targets` (upstreams by name) in order; a model without targets, and
 * any model without a route, goes to the first upstream with the client's canonical id (route `*`).
 *
 * @throws Error naming the model and upstream when a target names no configured upstream (config validation
 *   reports this at boot already; this is the backstop).
 */
export function routesFromConfig(
  models: readonly ModelRouteConfig[],
  upstreams: readonly Upstream[],
): Route[] {
  const byName = new Map(upstreams.map((u) => [u.name, u]));
  const routes: Route[] = [];
  for (const m of models) {
    if (!m.targets || m.targets.length === 0) continue;
    routes.push({
      model: m.id,
      targets: m.targets.map((t) => {
        const upstream = byName.get(t.upstream);
        if (!upstream) throw new Error(`model '${m.id}': no upstream is named '${t.upstream}'`);
        return {
          upstream,
          ...(t.model === undefined ? {} : { model: t.model }),
          ...(t.weight === undefined ? {} : { weight: t.weight }),
        };
      }),
    });
  }
  const first = upstreams[0];
  if (first) routes.push({ model: '*', targets: [{ upstream: first }] });
  return routes;
}
