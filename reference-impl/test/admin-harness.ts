/**
 * Test gateways for the policy and admin tests.
 *
 * Default (`mode: 'gateway'`): the real gateway (`startGateway` from a YAML config: catalogue, policies, admin
 * groups, client environment, static tokens, sign-in against the kit's mock IdP) on PGlite in memory or PostgreSQL,
 * with an in-test upstream. Access tokens are minted as the token endpoint mints them: a session in the gateway's
 * database (`createSessionManager`) and `issueAccessToken` with the gateway's active signing key (a key ring on the
 * same database and KEK).
 *
 * `mode: 'pipeline'`: the handler factories alone on the real router, pipeline and authenticators (what the lead's
 * wiring does, minus the config), for options the config cannot express (e.g. the admin API without sign-in).
 *
 * `replica()` starts a second gateway process on the same database, with its own key ring and revocation cache:
 * another `startGateway` on PostgreSQL; on PGlite (one process per database) the factories on the real pipeline,
 * sharing the first gateway's store.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createValidators, listOperations } from '@ocg/spec';
import { startMockIdp } from '../../conformance/src/mocks/idp/index.ts';
import { type AdminGroupsConfig, createAdminAuthenticator } from '../src/admin/authenticate.ts';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import { parseConfig, type StaticTokenConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { adminHandlers } from '../src/handlers/admin.ts';
import { inferenceHandlers, RECORDED_OPERATIONS } from '../src/handlers/inference.ts';
import { policyHandlers } from '../src/handlers/policy.ts';
import type { Handler } from '../src/http/context.ts';
import { createRouter } from '../src/http/router.ts';
import { createPipeline } from '../src/http/server.ts';
import type { ModelConfig, PolicyConfig } from '../src/policy/config.ts';
import type { GatewayEnvironment } from '../src/policy/managed-settings.ts';
import { createModelCatalogue } from '../src/policy/models.ts';
import { createRouter as createMessageRouter } from '../src/routing/route.ts';
import { issueAccessToken } from '../src/session/access-token.ts';
import { createKek, type Kek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import { createRevocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager } from '../src/session/sessions.ts';
import { createInferenceRecorder } from '../src/store/inference-log.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';
import { createAnthropicUpstream } from '../src/upstream/anthropic.ts';
import {
  type CapturedLogger,
  captureLogger,
  createTestDatabase,
  ENV,
  startUpstream,
  type TestUpstream,
  UPSTREAM_KEY,
} from './helpers.ts';

export const ACCESS_TTL_S = 3600;
/** `auth.issuer` of the test gateways: every replica behind one public URL, as in production. */
export const PUBLIC_URL = 'http://gateway.test';

export interface HarnessOptions {
  mode?: 'gateway' | 'pipeline';
  backend?: 'pglite' | 'postgres';
  models?: ModelConfig[];
  policies?: PolicyConfig[];
  adminGroups?: AdminGroupsConfig;
  staticTokens?: StaticTokenConfig[];
  /** What `/managed/settings` pushes; absent: nothing (clientEnvironment all off). */
  environment?: Omit<GatewayEnvironment, 'baseUrl'> & { baseUrl?: string };
  /** `mode: 'pipeline'` only: like a gateway without `auth.oidc` (admin API keys still work). */
  withoutSignIn?: boolean;
}

export interface TestUser {
  subject: string;
  email?: string | null;
  name?: string | null;
  groups?: string[];
}

export interface Replica {
  url: string;
  log: CapturedLogger;
  close(): Promise<void>;
}

export interface Harness extends Replica {
  /** The `iss` and `aud` of the gateway's access tokens. */
  issuer: string;
  store: Store;
  kek: Kek;
  /** A key ring on the gateway's database: signs with the gateway's active key. */
  keyring: KeyRing;
  sessions: SessionManager;
  upstream: TestUpstream;
  /** Creates a session for the user and returns a fresh access token for it (and the session id, refresh token). */
  signIn(user: TestUser): Promise<{ token: string; sessionId: string; refreshToken: string }>;
  /** Another gateway process on the same database. */
  replica(): Promise<Replica>;
}

function yamlConfig(o: {
  options: HarnessOptions;
  databaseUrl: string;
  upstreamUrl: string;
  idp: { issuer: string; clientId: string };
}): string {
  const { options } = o;
  const env = options.environment;
  // YAML is a superset of JSON: the structured parts are written as JSON.
  return `
server: { host: 127.0.0.1, port: 0 }
database: { url: ${JSON.stringify(o.databaseUrl)} }
auth:
  issuer: ${JSON.stringify(env?.baseUrl ?? PUBLIC_URL)}
  keyEncryptionKey: \${env:OCG_KEK}
  revocationCacheTtlMs: 2000
  oidc:
    issuer: ${o.idp.issuer}
    clientId: ${o.idp.clientId}
    clientSecret: \${env:OCG_OIDC_SECRET}
  adminGroups: ${JSON.stringify(options.adminGroups ?? {})}
  staticTokens: ${JSON.stringify(
    (options.staticTokens ?? []).map((t, i) => ({ ...t, token: `\${env:OCG_STATIC_${i}}` })),
  )}
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: ${o.upstreamUrl}
    apiKey: \${env:ANTHROPIC_API_KEY}
models: ${JSON.stringify(options.models ?? [])}
policies: ${JSON.stringify(options.policies ?? [])}
clientEnvironment: ${JSON.stringify({ modelDiscovery: env?.modelDiscovery ?? false, telemetry: env?.otlp ?? false })}
log: { level: debug }
`;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  return options.mode === 'pipeline' ? startPipelineHarness(options) : startGatewayHarness(options);
}

async function openDatabase(backend: 'pglite' | 'postgres') {
  if (backend === 'postgres') return createTestDatabase();
  return { url: 'pglite:memory:', drop: async () => {} };
}

async function startGatewayHarness(options: HarnessOptions): Promise<Harness> {
  const backend = options.backend ?? 'pglite';
  const kekText = randomBytes(32).toString('base64url');
  const kek = createKek(kekText);
  const [idp, upstream, database] = await Promise.all([
    startMockIdp({ seed: 777 }),
    startUpstream(),
    openDatabase(backend),
  ]);
  const client = await idp.registerClient({
    redirectUris: ['http://127.0.0.1/oauth/callback'],
    applicationType: 'native',
  });
  const env: Record<string, string> = {
    ...ENV,
    OCG_KEK: kekText,
    OCG_OIDC_SECRET: client.clientSecret ?? '',
  };
  (options.staticTokens ?? []).forEach((t, i) => {
    env[`OCG_STATIC_${i}`] = t.token;
  });
  const yaml = yamlConfig({
    options,
    databaseUrl: database.url,
    upstreamUrl: upstream.url,
    idp: { issuer: idp.issuer, clientId: client.clientId },
  });
  const config = parseConfig(yaml, env);
  const secrets = Object.values(env);
  const replicas: Replica[] = [];

  async function boot(): Promise<{ gateway: Gateway; replica: Replica }> {
    const log = captureLogger(secrets);
    const gateway = await startGateway(config, { logger: log.logger });
    const replica: Replica = {
      url: gateway.url,
      log,
      async close() {
        const i = replicas.indexOf(replica);
        if (i === -1) return;
        replicas.splice(i, 1);
        await gateway.close();
      },
    };
    replicas.push(replica);
    return { gateway, replica };
  }

  let first: { gateway: Gateway; replica: Replica };
  try {
    first = await boot();
  } catch (err) {
    await Promise.all([idp.close(), upstream.close()]);
    await database.drop();
    throw err;
  }
  const store = first.gateway.store;
  const issuer = (options.environment?.baseUrl ?? PUBLIC_URL).replace(/\/+$/, '');
  const keyring = createKeyRing(store, kek, { accessTokenTtlS: ACCESS_TTL_S });
  await keyring.refresh();
  const sessions = createSessionManager(store, kek, { refreshTokenTtlS: 30 * 86_400 });

  return {
    ...first.replica,
    issuer,
    store,
    kek,
    keyring,
    sessions,
    upstream,
    signIn: (user) => signIn(sessions, keyring, issuer, user),
    async replica() {
      if (backend === 'postgres') return (await boot()).replica;
      // PGlite serves one process: the second replica shares the first one's store.
      const replica = await startPipelineReplica(options, {
        store,
        kek,
        issuer,
        upstreamUrl: upstream.url,
        secrets,
        withoutSignIn: false,
      });
      replicas.push(replica);
      const close = replica.close;
      replica.close = async () => {
        const i = replicas.indexOf(replica);
        if (i === -1) return;
        replicas.splice(i, 1);
        await close();
      };
      return replica;
    },
    async close() {
      for (const r of [...replicas].reverse()) await r.close();
      await Promise.all([idp.close(), upstream.close()]);
      await database.drop();
    },
  };
}

async function signIn(
  sessions: SessionManager,
  keyring: KeyRing,
  issuer: string,
  user: TestUser,
): Promise<{ token: string; sessionId: string; refreshToken: string }> {
  const identity = {
    subject: user.subject,
    email: user.email === undefined ? `${user.subject}@example.com` : user.email,
    name: user.name ?? null,
    groups: user.groups ?? [],
  };
  const { sessionId, refreshToken } = await sessions.createSession({
    ...identity,
    idpIssuer: 'https://idp.example.test',
    idpSubject: user.subject,
    ttlS: 86_400,
  });
  const { token } = await issueAccessToken(
    keyring,
    { issuer, audience: issuer, ttlS: ACCESS_TTL_S },
    { ...identity, sessionId },
  );
  return { token, sessionId, refreshToken };
}

/** The factories on the real router and pipeline, on a given store (no config, no boot). */
async function startPipelineReplica(
  options: HarnessOptions,
  shared: {
    store: Store;
    kek: Kek;
    issuer: string;
    upstreamUrl: string;
    secrets: string[];
    withoutSignIn: boolean;
  },
): Promise<Replica> {
  const { store, kek, issuer } = shared;
  const log = captureLogger(shared.secrets);
  const [operations, validators] = await Promise.all([listOperations(), createValidators()]);
  const catalogue = createModelCatalogue(options.models ?? []);
  const policies = options.policies ?? [];
  const keyring = createKeyRing(store, kek, { accessTokenTtlS: ACCESS_TTL_S });
  await keyring.refresh();
  const revocation = createRevocation(store);
  const staticTokens = options.staticTokens ?? [];
  const signInOn = !shared.withoutSignIn;
  const adminAuth = {
    store,
    keyring: signInOn ? keyring : null,
    revocation: signInOn ? revocation : null,
    accessToken: { issuer, audience: issuer },
    adminGroups: options.adminGroups ?? {},
    staticTokens,
  };
  const anthropic = createAnthropicUpstream(
    {
      name: 'anthropic',
      kind: 'anthropic',
      baseUrl: shared.upstreamUrl,
      apiKey: UPSTREAM_KEY,
      timeouts: { connectMs: 2000, firstByteMs: 10_000, idleMs: 10_000 },
    },
    log.logger,
  );
  const env = options.environment;
  const handlers: Record<string, Handler> = {
    ...inferenceHandlers(
      createMessageRouter([{ model: '*', targets: [{ upstream: anthropic }] }], { logger: log.logger }),
      {
        catalogue,
        policies,
      },
    ),
    ...policyHandlers({
      catalogue,
      policies,
      ...(env ? { environment: { ...env, baseUrl: env.baseUrl ?? issuer } } : {}),
    }),
    ...adminHandlers({ store, revocation: signInOn ? revocation : null, auth: adminAuth }),
  };
  for (const op of operations) {
    handlers[op.operationId] ??= async () => {
      throw new Error(`${op.operationId} is not part of this test server`);
    };
  }
  const recorder = createInferenceRecorder(store, log.logger);
  const pipeline = createPipeline({
    router: createRouter(operations, handlers),
    authenticator: createAuthenticator({
      staticTokens,
      accessTokens: signInOn ? { keyring, revocation, issuer, audience: issuer, clockToleranceS: 30 } : null,
    }),
    authenticateAdmin: createAdminAuthenticator(adminAuth),
    validators,
    logger: log.logger,
    maxRequestBodyBytes: 1 << 20,
    recorder,
    recordedOperations: RECORDED_OPERATIONS,
    isDraining: () => false,
  });
  const server: Server = createServer(pipeline.onRequest);
  server.on('clientError', pipeline.onClientError);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closed = false;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await recorder.flush();
      await anthropic.close();
    },
  };
}

async function startPipelineHarness(options: HarnessOptions): Promise<Harness> {
  const backend = options.backend ?? 'pglite';
  const database = await openDatabase(backend);
  const log = captureLogger();
  const store = await createStore(database.url, { logger: log.logger });
  await migrate(store, { logger: log.logger });
  const kek = createKek(randomBytes(32).toString('base64url'));
  const upstream = await startUpstream();
  const issuer = (options.environment?.baseUrl ?? PUBLIC_URL).replace(/\/+$/, '');
  const shared = {
    store,
    kek,
    issuer,
    upstreamUrl: upstream.url,
    secrets: [],
    withoutSignIn: options.withoutSignIn === true,
  };
  const replicas: Replica[] = [await startPipelineReplica(options, shared)];
  const first = replicas[0] as Replica;
  const keyring = createKeyRing(store, kek, { accessTokenTtlS: ACCESS_TTL_S });
  await keyring.refresh();
  const sessions = createSessionManager(store, kek, { refreshTokenTtlS: 30 * 86_400 });
  return {
    ...first,
    issuer,
    store,
    kek,
    keyring,
    sessions,
    upstream,
    signIn: (user) => signIn(sessions, keyring, issuer, user),
    async replica() {
      const r = await startPipelineReplica(options, shared);
      replicas.push(r);
      return r;
    },
    async close() {
      for (const r of replicas) await r.close();
      await upstream.close();
      await store.close();
      await database.drop();
    },
  };
}
