/**
 * The policy fixture every run hands its adapter (adapter contract v1): a model catalogue, policies keyed to IdP
 * groups, and admin groups. Group names carry a seeded suffix so an adapter must render them from the context
 * rather than hard-code them; the kit creates the users of those groups at its mock IdP.
 *
 * The policies are written so that any "most specific tier wins, first listed wins" precedence rule gives the
 * same answer for the kit's users: each kit user is in at most one policy group (admins and the group-less user
 * are in none), so a gateway's own tie-breaking never decides a case.
 */
import type { Rng } from '../util/rng.ts';
import type { ModelFixture, PolicyFixture } from './contract.ts';

/**
 * The catalogue. It holds every model id the kit's inference cases and the shared fixtures send (including the
 * fixtures' one-letter probe model `m` and a dated id), each as its own entry: an alias could be rewritten to its
 * canonical id on the way upstream, and the pass-through cases compare the upstream body byte for byte.
 */
export const FIXTURE_MODELS: readonly ModelFixture[] = Object.freeze([
  {
    id: 'claude-sonnet-4-5',
    displayName: 'Claude Sonnet 4.5',
    aliases: ['sonnet-latest'],
    createdAt: '2025-09-29T00:00:00Z',
  },
  { id: 'claude-sonnet-4-5-20250929', displayName: 'Claude Sonnet 4.5 (2025-09-29)' },
  {
    id: 'claude-opus-4-1',
    displayName: 'Claude Opus 4.1',
    aliases: ['opus-latest'],
    createdAt: '2025-08-05T00:00:00Z',
  },
  {
    id: 'claude-haiku-4-5',
    displayName: 'Claude Haiku 4.5',
    aliases: ['haiku-latest'],
    createdAt: '2025-10-01T00:00:00Z',
  },
  { id: 'm', displayName: 'Conformance probe model', createdAt: '2024-01-01T00:00:00Z' },
  // The routed model (feature `routing`): two targets, see ROUTING_FIXTURE.
  { id: 'claude-routed-1', displayName: 'Conformance routed model', createdAt: '2024-01-02T00:00:00Z' },
  // Routed between the provider mocks, see PROVIDER_ROUTES.
  {
    id: 'claude-routed-2',
    displayName: 'Conformance routed model (Bedrock, then Vertex)',
    createdAt: '2024-01-03T00:00:00Z',
  },
  {
    id: 'claude-routed-3',
    displayName: 'Conformance routed model (Vertex, then Bedrock)',
    createdAt: '2024-01-04T00:00:00Z',
  },
]);

/** The routed models between the provider mocks: Bedrock then Vertex, and Vertex then Bedrock. */
export const PROVIDER_ROUTES = Object.freeze([
  Object.freeze({
    model: 'claude-routed-2',
    targets: Object.freeze([
      Object.freeze({ mock: 'bedrock' as const, upstreamModel: 'anthropic.claude-routed-2-20250101-v1:0' }),
      Object.freeze({ mock: 'vertex' as const, upstreamModel: 'claude-routed-2@20250101' }),
    ]),
  }),
  Object.freeze({
    model: 'claude-routed-3',
    targets: Object.freeze([
      Object.freeze({ mock: 'vertex' as const, upstreamModel: 'claude-routed-3@20250101' }),
      Object.freeze({ mock: 'bedrock' as const, upstreamModel: 'anthropic.claude-routed-3-20250101-v1:0' }),
    ]),
  }),
]);

/**
 * The routed model's targets in failover order: mock A (`mocks.anthropic`) first, then mock B
 * (`mocks.anthropicB`), each under its own upstream model id, so a case tells from the upstream request body —
 * and from the answer's `model`, which the mocks echo — which target served a request.
 */
export const ROUTING_FIXTURE = Object.freeze({
  model: 'claude-routed-1',
  targets: Object.freeze([
    Object.freeze({ mock: 'anthropic' as const, upstreamModel: 'claude-routed-1-at-a' }),
    Object.freeze({ mock: 'anthropicB' as const, upstreamModel: 'claude-routed-1-at-b' }),
  ]),
});

/** Builds the run's policy fixture from its seed. */
export function createPolicyFixture(rng: Rng): PolicyFixture {
  const suffix = rng.hex(6);
  const groups = {
    developers: `ocg-developers-${suffix}`,
    restricted: `ocg-restricted-${suffix}`,
    emptySettings: `ocg-empty-settings-${suffix}`,
    adminRead: `ocg-admin-read-${suffix}`,
    adminWrite: `ocg-admin-write-${suffix}`,
  };
  const restrictedModel = 'claude-haiku-4-5';
  return {
    models: FIXTURE_MODELS,
    policies: [
      {
        name: 'developers',
        match: { groups: [groups.developers] },
        managedSettings: {
          env: {
            CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
            OCG_CONFORMANCE_POLICY: `developers-${suffix}`,
          },
          permissions: { deny: ['Bash(curl:*)'] },
        },
        models: ['*'],
      },
      {
        name: 'restricted',
        match: { groups: [groups.restricted] },
        managedSettings: {
          env: { OCG_CONFORMANCE_POLICY: `restricted-${suffix}` },
          model: restrictedModel,
          availableModels: [restrictedModel],
        },
        models: [restrictedModel],
      },
      {
        name: 'empty-settings',
        match: { groups: [groups.emptySettings] },
        managedSettings: {},
        models: ['*'],
      },
    ],
    adminGroups: { read: [groups.adminRead], write: [groups.adminWrite] },
    groups,
    restrictedModel,
    routing: ROUTING_FIXTURE,
    providerRoutes: PROVIDER_ROUTES,
    allowedEmailDomains: ['example.test'],
    groupsOverage: 'deny',
  };
}
