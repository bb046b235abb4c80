/**
 * Adapter contract v1 — how the kit starts a gateway it has never seen (docs/adapter-contract.md).
 *
 * An adapter is an ES module whose default export is an {@link Adapter}. The kit starts its mocks (the Anthropic
 * upstream and an OpenID Provider), calls `start()` with their URLs and credentials and the policy the gateway
 * must apply, drives the returned gateway only over HTTP, and calls `stop()`.
 *
 * v1 only adds to v0: every v0 field keeps its meaning, so a v0 adapter (which ignores `mocks.idp` and `policy`
 * and hands back a `bearer`) still runs the features it declares.
 *
 * @example
 * // my-gateway.adapter.ts
 * import type { Adapter } from '@ocg/conformance';
 * const adapter: Adapter = {
 *   name: 'my-gateway',
 *   async start(ctx) {
 *     const base = 'http://127.0.0.1:8080';
 *     const client = await ctx.mocks.idp.registerClient({ redirectUris: [`${base}/oauth/callback`] });
 *     // render config: upstream ctx.mocks.anthropic, IdP ctx.mocks.idp.issuer + client, ctx.policy …
 *     // spawn the gateway, wait for readiness
 *     return { baseUrl: base, stop: async () => {} };
 *   },
 * };
 * export default adapter;
 */

/** The version of the contract this kit speaks (`ctx.contractVersion`). */
export const ADAPTER_CONTRACT_VERSION = 1;

/** What the mock OpenID Provider offers the gateway (it is the gateway's IdP for the whole run). */
export interface AdapterIdp {
  /** The OIDC issuer, e.g. `http://127.0.0.1:41235` (plain HTTP on loopback; no trailing slash). */
  issuer: string;
  /** `<issuer>/.well-known/openid-configuration`. */
  discoveryUrl: string;
  /** The scopes to request: `openid email profile groups` (the groups claim needs the `groups` scope). */
  scopes: readonly string[];
  /** Where the claims are, in the ID token and at userinfo. */
  claims: { email: 'email'; emailVerified: 'email_verified'; name: 'name'; groups: 'groups' };
  /**
   * Registers the gateway as a confidential client (authorization code + PKCE S256, refresh tokens), before or
   * after the gateway starts (a gateway on port 0 registers once its URL is known, under the id and secret it was
   * configured with). `redirectUris` are matched exactly (port included). Default: a seeded id and secret and
   * `client_secret_post`; `client_secret_basic` also works.
   */
  registerClient(input: {
    redirectUris: readonly string[];
    clientId?: string;
    clientSecret?: string;
    tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  }): Promise<{ clientId: string; clientSecret: string; tokenEndpointAuthMethod: string }>;
}

/** One model of the catalogue the gateway must offer (every model goes to the mock Anthropic upstream). */
export interface ModelFixture {
  /** Anthropic-style id, sent upstream unchanged. */
  id: string;
  displayName: string;
  /** Other names clients may use for it (resolve to `id` everywhere). */
  aliases?: readonly string[];
  /** RFC 3339 release time. */
  createdAt?: string;
}

/**
 * One policy: whom it matches and what they get. Precedence (the reference gateway's rule, which the kit's
 * policies are written so that any "most specific wins, first listed wins" rule gives the same answer): users >
 * groups > emailDomains > everyone, and the first matching policy of that tier, never merged.
 */
export interface PolicyFixtureEntry {
  name: string;
  match: {
    users?: readonly string[];
    groups?: readonly string[];
    emailDomains?: readonly string[];
    everyone?: true;
  };
  /** Claude Code managed settings for `/managed/settings`; `null`: this policy pushes none (404). */
  managedSettings: Record<string, unknown> | null;
  /** Model allowlist: catalogue ids or aliases, or `*` for all of them. */
  models: readonly string[];
}

/** The policy the gateway must apply, keyed to IdP groups (the kit creates users in those groups at the IdP). */
export interface PolicyFixture {
  /** The model catalogue. It includes every model id the kit's inference cases send. */
  models: readonly ModelFixture[];
  policies: readonly PolicyFixtureEntry[];
  /** IdP groups whose members are admins through their gateway session. */
  adminGroups: { read: readonly string[]; write: readonly string[] };
  /** Group names by role, for cases (all of them are in `policies` or `adminGroups`). */
  groups: {
    /** Every model, non-empty managed settings. The runner's default user is in it. */
    developers: string;
    /** One model only (`restrictedModel`), other managed settings. */
    restricted: string;
    /** An empty managed-settings document (`{}`, 200) and every model. */
    emptySettings: string;
    adminRead: string;
    adminWrite: string;
  };
  /** The only model of the `restricted` group. */
  restrictedModel: string;
  /**
   * The routed model (feature `routing`): a catalogue model (in `models`, allowed to every policy that allows
   * `*`) whose requests go to `targets` in this order — the first healthy one answers, the next is tried only
   * before anything reached the client. Each target names a kit mock (`anthropic` or `anthropicB`) and the model
   * id to send there (a gateway puts it in the upstream request's `model`), so cases see which target answered.
   * Every other model goes to `mocks.anthropic` only.
   */
  routing?: RoutingFixture;
  /**
   * Routed models between the provider mocks (feature `routing`): `[bedrock, vertex]` and `[vertex, bedrock]`, each
   * target with its provider model id (a Bedrock model id, a Vertex `model@version`). Also in `models`.
   */
  providerRoutes?: readonly RoutingFixture[];
  /** Sign-in rules: only these email domains may sign in (every kit user is in the first one). */
  allowedEmailDomains: readonly string[];
  /** What to do with an Entra group overage (`_claim_names.groups`): the kit expects the user refused. */
  groupsOverage: 'deny';
}

/** One target of the routed model: which kit mock, and the model id at it. */
export interface RoutingTargetFixture {
  mock: 'anthropic' | 'anthropicB' | 'bedrock' | 'vertex';
  /** The model id the gateway sends to that upstream (in the body's `model`). */
  upstreamModel: string;
}

/** The routed model and its targets, in failover order (adapter contract v1, feature `routing`). */
export interface RoutingFixture {
  model: string;
  targets: readonly RoutingTargetFixture[];
}

/**
 * Routing limits the kit asks for, so its routing cases finish in seconds (a gateway that cannot configure them
 * fails the cases whose bound they exceed). Every routing case has a wall-clock bound derived from these.
 */
export interface RoutingTimingHints {
  /** Longest wait from an attempt's start to a stream's first content before failing over, in ms (2000). */
  firstTokenMs: number;
  /** Longest silence inside a stream once content reached the client, before the SSE `error` event (2000). */
  idleMs: number;
  /** First retry backoff on a target, in ms (50); doubled per retry with jitter. */
  backoffBaseMs: number;
  /** Consecutive failures that open a target's circuit breaker (5). */
  breakerFailureThreshold: number;
  /** How long an open breaker waits before its half-open probe, in ms (2000). */
  breakerCoolDownMs: number;
}

/**
 * Lifetimes the kit asks for, so its expiry cases finish quickly. A gateway that cannot configure them is still
 * tested with the values it announces (`expires_in`), its expiry cases just wait longer.
 */
export interface TimingHints {
  /** Access-token lifetime in seconds (60). */
  accessTokenTtlS: number;
  /** Accepted clock skew on `exp`/`nbf` in seconds (5); declare yours as `clockToleranceS`. */
  clockToleranceS: number;
  /** Device code lifetime, RFC 8628 `expires_in` (60). */
  deviceCodeExpiresInS: number;
  /** Device flow polling `interval` (1). */
  deviceCodeIntervalS: number;
  /** Routing limits for the `routing` cases (always set by this kit; optional for contexts built elsewhere). */
  routing?: RoutingTimingHints;
}

export interface AdapterContext {
  /** The contract version (1). Absent in v0, which had only `mocks.anthropic`, `workDir`, `seed` and `log`. */
  contractVersion: typeof ADAPTER_CONTRACT_VERSION;
  /**
   * The mocks the gateway must use: its upstream, a second Anthropic upstream (`anthropicB`: only the routed
   * model's second target, see `policy.routing`) and its identity provider.
   */
  mocks: {
    anthropic: { url: string; apiKey: string };
    /** Always set by this kit (optional only for contexts built by other tooling). */
    anthropicB?: { url: string; apiKey: string };
    /**
     * The Amazon Bedrock runtime mock (an upstream of kind bedrock: `url` as its endpoint, SigV4 with service
     * `bedrock` in `region` with `credentials`, or `apiKey` as a Bedrock API key bearer). Always set by this kit.
     */
    bedrock?: {
      url: string;
      region: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
      apiKey: string;
    };
    /**
     * The Google Vertex AI mock (an upstream of kind vertex): `baseUrl` replaces `https://<region>-aiplatform…/v1`,
     * `accessToken` is the OAuth2 bearer it requires, for `projectId` in `region`. Always set by this kit.
     */
    vertex?: { baseUrl: string; region: string; projectId: string; accessToken: string };
    idp: AdapterIdp;
  };
  /** Which groups get which managed settings, models and admin roles. Users exist only at the IdP. */
  policy: PolicyFixture;
  timing: TimingHints;
  /** A fresh directory the adapter may write config, data and logs into. */
  workDir: string;
  /** The run's seed: derive any random value (tokens, names) from it so runs reproduce. */
  seed: number;
  /** Progress messages for the console. */
  log(msg: string): void;
}

export interface GatewayUnderTest {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /**
   * A bearer token the gateway accepts on bearer endpoints (v0). Optional when the gateway declares `sign-in`: the
   * runner then signs in a user of the `developers` group through the device flow and uses that access token.
   */
  bearer?: string;
  /**
   * Feature ids the gateway implements. Default: the `features` of its `/.well-known/ocg-configuration`, else every
   * feature of the profiles being run.
   */
  features?: string[];
  /** The gateway's request-body limit in bytes (default 32 MiB). */
  maxRequestBodyBytes?: number;
  /** The clock skew the gateway tolerates on access-token expiry, in seconds (default 60). */
  clockToleranceS?: number;
  /** Stops the gateway and releases what `start` took. */
  stop(): Promise<void>;
}

export interface Adapter {
  /** A short name for reports, e.g. `reference`. */
  name: string;
  start(ctx: AdapterContext): Promise<GatewayUnderTest>;
}

/** The request-body limit assumed when an adapter does not state one (the Messages API's own: 32 MiB). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;
/** The access-token clock skew the kit allows when an adapter does not state one. */
export const DEFAULT_CLOCK_TOLERANCE_S = 60;
