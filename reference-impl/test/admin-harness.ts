/**
 * A gateway-shaped test server for the policy and admin handlers: the real spec router and request pipeline, the
 * real authenticator (gateway access tokens + static development tokens), `createAdminAuthenticator`, and the real
 * session modules on a database (PGlite in memory, or PostgreSQL), with an in-test upstream. Operations of other
 * areas answer 501. Access tokens are minted with `issueAccessToken` for sessions created in the database, exactly
 * as the token endpoint does.
 *
 * `replica()` starts a second process-like server on the same database (its own key ring and revocation cache),
 * to test that an admin revocation on one replica reaches the other within 5 s.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createValidators, listOperations } from '@ocg/spec';
import { type AdminGroupsConfig, createAdminAuthenticator } from '../src/admin/authenticate.ts';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import type { StaticTokenConfig } from '../src/config/load.ts';
import { GatewayError } from '../src/errors.ts';
import { adminHandlers } from '../src/handlers/admin.ts';
import { inferenceHandlers, RECORDED_OPERATIONS } from '../src/handlers/inference.ts';
import { policyHandlers } from '../src/handlers/policy.ts';
import type { Handler } from '../src/http/context.ts';
import { createRouter } from '../src/http/router.ts';
import { createPipeline } from '../src/http/server.ts';
import type { Logger } from '../src/log/logger.ts';
import type { ModelConfig, PolicyConfig } from '../src/policy/config.ts';
import type { GatewayEnvironment } from '../src/policy/managed-settings.ts';
import { createModelCatalogue } from '../src/policy/models.ts';
import { issueAccessToken } from '../src/session/access-token.ts';
import { createKek, type Kek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import { createRevocation, type Revocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager } from '../src/session/sessions.ts';
import { createInferenceRecorder } from '../src/store/inference-log.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';
import { createAnthropicUpstream } from '../src/upstream/anthropic.ts';
import {
  type CapturedLogger,
  captureLogger,
  createTestDatabase,
  startUpstream,
  type TestUpstream,
  UPSTREAM_KEY,
} from './helpers.ts';

export const ISSUER = 'http://gateway.test';
export const ACCESS_TTL_S = 3600;

export interface HarnessOptions {
  backend?: 'pglite' | 'postgres';
  models?: ModelConfig[];
  policies?: PolicyConfig[];
  adminGroups?: AdminGroupsConfig;
  staticTokens?: StaticTokenConfig[];
  environment?: GatewayEnvironment;
  /** Like a gateway without `auth.oidc`: access tokens are not accepted anywhere; admin API keys still are. */
  withoutSignIn?: boolean;
  /** Revocation cache lifetime of each replica (default: the module default, 2000 ms). */
  revocationTtlMs?: number;
}

export interface TestUser {
  subject: string;
  email?: string | null;
  name?: string | null;
  groups?: string[];
}

export interface Replica {
  url: string;
  keyring: KeyRing;
  revocation: Revocation;
  log: CapturedLogger;
  close(): Promise<void>;
}

export interface Harness extends Replica {
  store: Store;
  kek: Kek;
  sessions: SessionManager;
  upstream: TestUpstream;
  /** Creates a session for the user and returns a fresh access token for it (and the session id, refresh token). */
  signIn(user: TestUser): Promise<{ token: string; sessionId: string; refreshToken: string }>;
  /** Another gateway process on the same database. */
  replica(): Promise<Replica>;
}

async function openStore(backend: 'pglite' | 'postgres', logger: Logger) {
  let url = 'pglite:memory:';
  let drop = async () => {};
  if (backend === 'postgres') ({ url, drop } = await createTestDatabase());
  const store = await createStore(url, { logger });
  await migrate(store, { logger });
  return { store, drop };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const backend = options.backend ?? 'pglite';
  const bootLog = captureLogger();
  const { store, drop } = await openStore(backend, bootLog.logger);
  const kek = createKek(randomBytes(32).toString('base64url'));
  const upstream = await startUpstream();
  const [operations, validators] = await Promise.all([listOperations(), createValidators()]);
  const catalogue = createModelCatalogue(options.models ?? []);
  const policies = options.policies ?? [];
  const replicas: Replica[] = [];

  async function startReplica(): Promise<Replica> {
    const log = captureLogger();
    const keyring = createKeyRing(store, kek, { accessTokenTtlS: ACCESS_TTL_S });
    await keyring.refresh();
    const revocation = createRevocation(store, {
      ...(options.revocationTtlMs !== undefined ? { ttlMs: options.revocationTtlMs } : {}),
    });
    const staticTokens = options.staticTokens ?? [];
    const signInOn = options.withoutSignIn !== true;
    const adminAuth = {
      store,
      keyring: signInOn ? keyring : null,
      revocation: signInOn ? revocation : null,
      accessToken: { issuer: ISSUER, audience: ISSUER },
      adminGroups: options.adminGroups ?? {},
      staticTokens,
    };
    const anthropic = createAnthropicUpstream(
      {
        name: 'anthropic',
        kind: 'anthropic',
        baseUrl: upstream.url,
        apiKey: UPSTREAM_KEY,
        timeouts: { connectMs: 2000, firstByteMs: 10_000, idleMs: 10_000 },
      },
      log.logger,
    );
    const handlers: Record<string, Handler> = {
      ...inferenceHandlers(anthropic, { catalogue, policies }),
      ...policyHandlers({
        catalogue,
        policies,
        ...(options.environment ? { environment: options.environment } : {}),
      }),
      ...adminHandlers({ store, revocation: signInOn ? revocation : null, auth: adminAuth }),
    };
    for (const op of operations) {
      handlers[op.operationId] ??= async () => {
        throw new GatewayError('ERR_NOT_FOUND', `${op.operationId} is not part of this harness.`, {
          status: 501,
          type: 'not_supported',
        });
      };
    }
    const recorder = createInferenceRecorder(store, log.logger);
    const pipeline = createPipeline({
      router: createRouter(operations, handlers),
      authenticator: createAuthenticator({
        staticTokens,
        accessTokens: signInOn
          ? { keyring, revocation, issuer: ISSUER, audience: ISSUER, clockToleranceS: 30 }
          : null,
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
    const replica: Replica = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      keyring,
      revocation,
      log,
      async close() {
        const i = replicas.indexOf(replica);
        if (i === -1) return;
        replicas.splice(i, 1);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await recorder.flush();
        await anthropic.close();
      },
    };
    replicas.push(replica);
    return replica;
  }

  const first = await startReplica();
  const sessions = createSessionManager(store, kek, {
    refreshTokenTtlS: 30 * 86_400,
    onSessionRevoked: first.revocation.noteRevoked,
  });

  return {
    ...first,
    store,
    kek,
    sessions,
    upstream,
    async signIn(user) {
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
        first.keyring,
        { issuer: ISSUER, audience: ISSUER, ttlS: ACCESS_TTL_S },
        { ...identity, sessionId },
      );
      return { token, sessionId, refreshToken };
    },
    replica: startReplica,
    async close() {
      for (const r of [...replicas]) await r.close();
      await upstream.close();
      await store.close();
      await drop();
    },
  };
}
