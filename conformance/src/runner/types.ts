/**
 * What a conformance case is and what it gets to work with.
 */
import type { fetch, request } from 'undici';
import type { PolicyFixture, TimingHints } from '../adapters/contract.ts';
import type { Browser, BrowserOptions } from '../browser/index.ts';
import type { MockAnthropic } from '../mocks/anthropic/index.ts';
import type { MockBedrock } from '../mocks/bedrock/index.ts';
import type { MockIdp, MockIdpClient, MockIdpUser } from '../mocks/idp/index.ts';
import type { MockVertex } from '../mocks/vertex/index.ts';
import type { SignInDriver, TokenSet } from '../signin/driver.ts';
import type { Rng } from '../util/rng.ts';
import type { GatewayClient } from './client.ts';

/** The mock IdP as cases see it: its users and controls, and the clients the adapter registered. */
export type CaseIdp = Omit<MockIdp, 'close' | 'registerClient' | 'clearLog'> & {
  /** The clients the adapter registered for the gateway (usually one). */
  readonly clients: readonly MockIdpClient[];
};

export interface CaseContext {
  gateway: {
    baseUrl: string;
    /**
     * A bearer the gateway accepts for a user of the `developers` group: the access token of the runner's default
     * sign-in (kept fresh between cases), else the adapter's `bearer`. Reading it fails the case when there is none.
     */
    readonly bearer: string;
    /** The gateway's body limit (from the adapter, default 32 MiB). */
    maxRequestBodyBytes: number;
    /** The access-token clock skew the gateway tolerates (from the adapter, default 60 s). */
    clockToleranceS: number;
    features: readonly string[];
  };
  /** The lifetimes and routing limits the kit asked the adapter for. */
  timing: TimingHints;
  /**
   * The mocks, reset before every case (the IdP keeps its users and clients; its log is cleared). `anthropicB` is
   * the routed model's second target (`policy.routing`); `anthropic` serves everything else and is its first.
   */
  mocks: {
    anthropic: MockAnthropic;
    anthropicB: MockAnthropic;
    /** The provider mocks, the targets of `policy.providerRoutes`. */
    bedrock: MockBedrock;
    vertex: MockVertex;
    idp: CaseIdp;
  };
  /** The mock IdP: create users (`createUser({ groups })`), disable them, change their groups. */
  idp: CaseIdp;
  /** The policy fixture the adapter configured (groups, models, admin groups). */
  policy: PolicyFixture;
  /** Signs `user` in through the device flow, as a client and its user do (see `oauth` for the steps). */
  signIn(user: MockIdpUser): Promise<TokenSet>;
  /** The sign-in driver: discovery, device authorization, the verification page, polling, refresh, revocation. */
  oauth: SignInDriver;
  /** A fresh cookie-aware browser, closed when the case ends. */
  newBrowser(options?: BrowserOptions): Browser;
  /** What the case's `prepare` returned (undefined without one). */
  prepared: unknown;
  /** Seeded per case: the same seed gives every case the same values. */
  rng: Rng;
  /** Talks to the gateway; every response is validated against the spec as it is read. */
  client: GatewayClient;
  /** Plain undici for anything the client does not cover (responses are not spec-checked). */
  http: { request: typeof request; fetch: typeof fetch };
  /** Validates a response obtained some other way against the spec; throws (fails the case) on violations. */
  check(operationId: string, r: { status: number; contentType: string | null; body: unknown }): void;
  /** Records an observation for the report (shown with the result; e.g. what a MAY case saw). */
  note(message: string): void;
  /** Reads a JSON fixture from the repository's `fixtures/` directory, e.g. `messages/basic.json`. */
  fixture<T = unknown>(relativePath: string): Promise<T>;
  /** Aborted when the case runs out of time. */
  signal: AbortSignal;
}

export interface ConformanceCase {
  /** `<area>/<name>`, e.g. `inference/streaming-passthrough`. */
  id: string;
  title: string;
  /** The feature the case exercises; a gateway that does not declare it gets `unsupported`. */
  feature: string;
  /** Requirement ids the case checks. */
  requirements: string[];
  /** Wall-clock limit for the whole case (and, separately, for its `prepare`). */
  timeoutMs: number;
  /**
   * Optional: runs right after the gateway started, before any case, with the case's own context; what it returns
   * is `ctx.prepared` when the case runs in its turn. For cases that wait for something to expire: they start the
   * clock here and find it run out when their turn comes, instead of sleeping through it.
   */
  prepare?(ctx: CaseContext): Promise<unknown>;
  run(ctx: CaseContext): Promise<void>;
}

/** Identity function that gives a case literal its type. */
export function defineCase(c: ConformanceCase): ConformanceCase {
  return c;
}
