/**
 * Boot and shutdown of one gateway process. Everything that must survive the process lives in PostgreSQL, so any
 * number of these can run behind a load balancer sharing one database.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createValidators, listOperations, renderProtocolMarkdown } from '@ocg/spec';
import { type AdminAuthDeps, createAdminAuthenticator } from './admin/authenticate.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { configSecrets, type GatewayConfig, type UpstreamConfig } from './config/load.ts';
import { GatewayError } from './errors.ts';
import { adminHandlers } from './handlers/admin.ts';
import {
  inferenceHandlers,
  RECORDED_OPERATIONS,
  serveCountTokensRequest,
  serveMessageRequest,
} from './handlers/inference.ts';
import { metaHandlers } from './handlers/meta.ts';
import { oauthHandlers } from './handlers/oauth.ts';
import { PASSTHROUGH_ERROR_RENDERERS, passthroughHandlers } from './handlers/passthrough.ts';
import { clientEnvironment, policyHandlers } from './handlers/policy.ts';
import { signinHandlers } from './handlers/signin.ts';
import type { Handler } from './http/context.ts';
import { createRouter } from './http/router.ts';
import { type AdminAuthenticator, createPipeline, type Pipeline } from './http/server.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { createModelCatalogue } from './policy/models.ts';
import type { BreakerSnapshot } from './routing/breaker.ts';
import { createRouter as createMessageRouterFrom, type Router as MessageRouter } from './routing/route.ts';
import type { Route } from './routing/targets.ts';
import type { GatewayServices, SignInServices } from './services.ts';
import { createDeviceAuthorizations } from './session/device-codes.ts';
import { createKek } from './session/kek.ts';
import { createKeyRing } from './session/keys.ts';
import { createRevocation } from './session/revocation.ts';
import { createSessionManager } from './session/sessions.ts';
import type { OidcConfig } from './signin/config.ts';
import { createOidcRp } from './signin/oidc.ts';
import { createIdpRecheck } from './signin/recheck.ts';
import { createInferenceRecorder } from './store/inference-log.ts';
import { loadMigrations, migrate } from './store/migrate.ts';
import { createStore, type Store } from './store/store.ts';
import { createAnthropicUpstream, type Upstream } from './upstream/anthropic.ts';
import { createBedrockUpstream } from './upstream/bedrock/index.ts';
import { createVertexUpstream } from './upstream/vertex/index.ts';

export interface StartGatewayOptions {
  /** Defaults to JSON lines on stdout at the configured level, redacting the config's secrets. */
  logger?: Logger;
  /** Directory the default embedded database (`.ocg/data`) is relative to; defaults to `process.cwd()`. */
  cwd?: string;
}

export interface Gateway {
  /** Base URL the gateway listens on, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The database the gateway uses (exposed for operators' tooling and tests). */
  readonly store: Store;
  /** The modules built at boot (session modules, catalogue, public URL), for operators' tooling and tests. */
  readonly services: GatewayServices;
  /**
   * Graceful stop: stop accepting connections, report not-ready, let in-flight requests (streams included) finish
   * for up to `server.shutdownGraceMs`, then abort the rest, flush pending records and close the database.
   */
  close(): Promise<void>;
}

/**
 * Starts a gateway from a resolved config (see `loadConfigFile` / `parseConfig`).
 *
 * @example
 * const gateway = await startGateway(await loadConfigFile('gateway.yaml'));
 * // … later
 * await gateway.close();
 */
export async function startGateway(
  config: GatewayConfig,
  options: StartGatewayOptions = {},
): Promise<Gateway> {
  const logger = options.logger ?? createLogger({ level: config.log.level, secrets: configSecrets(config) });
  const [operations, validators, protocolMarkdown] = await Promise.all([
    listOperations(),
    createValidators(),
    renderProtocolMarkdown(),
  ]);
  const migrations = loadMigrations();

  const store = await createStore(config.database.url, {
    logger,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let upstreams: Upstream[] = [];
  let server: Server | undefined;
  try {
    await migrate(store, { logger, migrations });
    upstreams = config.upstreams.map((u) => createUpstream(u, logger));
    const messageRouter = createMessageRouter(config, upstreams, logger);

    const signIn = await startSignInServices(config, store, logger);
    if (!signIn) {
      logger.warn('sign-in is not configured (no auth.oidc): only static development tokens authenticate');
    }

    // Listen first: without `auth.issuer` the public URL is the one we listen on (port 0 picks one). Requests are
    // parsed only after this function's synchronous continuation has installed the pipeline.
    let pipeline: Pipeline | undefined;
    server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) =>
      (pipeline as Pipeline).onRequest(req, res),
    );
    server.on('clientError', (err: Error & { code?: string }, socket) =>
      pipeline ? pipeline.onClientError(err, socket) : socket.destroy(),
    );
    await listen(server, config.server.host, config.server.port);
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    const publicUrl = config.auth.issuer?.replace(/\/+$/, '') ?? url;
    const audience = config.auth.audience ?? publicUrl;
    const services: GatewayServices = {
      config,
      logger,
      store,
      catalogue: createModelCatalogue(config.models),
      signIn,
      publicUrl: () => publicUrl,
      audience: () => audience,
      features: implementedFeatures(signIn !== null),
    };

    let draining = false;
    const issue3 = signInPolicyAdmin(services);
    const handlers: Record<string, Handler> = {
      ...inferenceHandlers(messageRouter, { catalogue: services.catalogue, policies: config.policies }),
      // ROUTING-13 (admin only: the pipeline has authenticated the admin credential and its read scope).
      async getRoutesHealth(ctx) {
        sendJson(ctx.res, 200, { data: messageRouter.health().map(routeTargetView) });
      },
      // Bedrock- and Vertex-shaped surfaces: createMessage's own path in another wire shape (PASSTHROUGH-*).
      ...passthroughHandlers({
        serve: (ctx, o) =>
          serveMessageRequest(
            ctx,
            messageRouter,
            { catalogue: services.catalogue, policies: config.policies },
            o,
          ),
        countTokens: (ctx, o) =>
          serveCountTokensRequest(
            ctx,
            messageRouter,
            { catalogue: services.catalogue, policies: config.policies },
            o,
          ),
        catalogue: services.catalogue,
        models: config.models,
      }),
      ...metaHandlers({ protocolMarkdown, store, migrations, isDraining: () => draining }),
      ...issue3.handlers,
    };
    const router = createRouter(operations, handlers);
    const recorder = createInferenceRecorder(store, logger);
    pipeline = createPipeline({
      router,
      authenticator: createAuthenticator({
        staticTokens: config.auth.staticTokens,
        accessTokens: signIn
          ? {
              keyring: signIn.keyring,
              revocation: signIn.revocation,
              issuer: publicUrl,
              audience,
              clockToleranceS: config.auth.clockToleranceS,
            }
          : null,
      }),
      authenticateAdmin: issue3.authenticateAdmin,
      validators,
      logger,
      maxRequestBodyBytes: config.server.maxRequestBodyBytes,
      recorder,
      recordedOperations: RECORDED_OPERATIONS,
      errorRenderers: PASSTHROUGH_ERROR_RENDERERS,
      isDraining: () => draining,
    });
    const activePipeline = pipeline;
    const activeServer = server;
    logger.info('gateway listening', {
      url,
      public_url: publicUrl,
      upstreams: upstreams.map((u) => `${u.name} (${u.kind})`),
      operations: operations.length,
      sign_in: signIn !== null,
    });

    const activeUpstreams = upstreams;
    let closing: Promise<void> | null = null;
    const close = async (): Promise<void> => {
      draining = true;
      const closed = new Promise<void>((resolve) => activeServer.close(() => resolve()));
      activeServer.closeIdleConnections();
      const grace = config.server.shutdownGraceMs;
      if (activePipeline.inFlight.size > 0) {
        logger.info('draining in-flight requests', {
          in_flight: activePipeline.inFlight.size,
          grace_ms: grace,
        });
        let timer: NodeJS.Timeout | undefined;
        const expired = await Promise.race([
          Promise.all([...activePipeline.inFlight].map((f) => f.done)).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), grace);
          }),
        ]);
        clearTimeout(timer);
        if (expired) {
          logger.warn('shutdown grace period over: aborting in-flight requests', {
            in_flight: activePipeline.inFlight.size,
          });
          const reason = new GatewayError(
            'ERR_SHUTTING_DOWN',
            'The gateway is shutting down; retry the request.',
          );
          const aborted = [...activePipeline.inFlight];
          for (const f of aborted) f.controller.abort(reason);
          // A moment for the aborted requests to tell their clients (503 or an SSE error event) before the
          // remaining connections are cut.
          await Promise.race([Promise.all(aborted.map((f) => f.done)), sleep(ABORT_FLUSH_MS)]);
        }
      }
      activeServer.closeAllConnections();
      await closed;
      await recorder.flush();
      await Promise.all(
        activeUpstreams.map((u) =>
          u
            .close()
            .catch((err: unknown) => logger.warn('closing upstream pool failed', { upstream: u.name, err })),
        ),
      );
      await store.close();
      logger.info('gateway stopped');
    };
    return {
      url,
      store,
      services,
      close() {
        closing ??= close();
        return closing;
      },
    };
  } catch (err) {
    server?.close();
    server?.closeAllConnections();
    await Promise.all(upstreams.map((u) => u.close().catch(() => {})));
    await store.close().catch(() => {});
    throw err;
  }
}

/** The session modules, started (signing keys loaded or created) when sign-in is configured. */
async function startSignInServices(
  config: GatewayConfig,
  store: Store,
  logger: Logger,
): Promise<SignInServices | null> {
  const { auth } = config;
  if (!auth.oidc || !auth.keyEncryptionKey) return null;
  const kek = createKek(auth.keyEncryptionKey, { previous: auth.previousKeyEncryptionKeys });
  const keyring = createKeyRing(store, kek, {
    accessTokenTtlS: auth.accessTokenTtlS,
    skewS: auth.signingKeyRetirementSkewS,
    refreshIntervalS: auth.keyRefreshIntervalS,
    onBackgroundError: (err) => logger.warn('reloading signing keys failed', { err }),
  });
  await keyring.refresh();
  const revocation = createRevocation(store, { ttlMs: auth.revocationCacheTtlMs });
  const sessions = createSessionManager(store, kek, {
    refreshTokenTtlS: auth.refreshTokenTtlS,
    onSessionRevoked: (id) => revocation.noteRevoked(id),
  });
  const devices = createDeviceAuthorizations(store);
  return { kek, keyring, revocation, sessions, devices };
}

/** The handlers of the sign-in, policy and admin operations (issue 3), with what they share. */
function signInPolicyAdmin(services: GatewayServices): {
  handlers: Record<string, Handler>;
  authenticateAdmin: AdminAuthenticator;
} {
  const { signIn, config, logger, store } = services;
  const oidcConfig = config.auth.oidc as OidcConfig | undefined;
  const rp = signIn && oidcConfig ? createOidcRp(oidcConfig) : undefined;
  const idpRecheck = signIn
    ? createIdpRecheck({ oidc: oidcConfig, sessions: signIn.sessions, logger, ...(rp ? { rp } : {}) })
    : null;
  const accessToken = {
    issuer: services.publicUrl(),
    audience: services.audience(),
    clockToleranceS: config.auth.clockToleranceS,
  };
  const adminAuth = signIn
    ? {
        store,
        keyring: signIn.keyring,
        revocation: signIn.revocation,
        accessToken,
        adminGroups: (config.auth.adminGroups ?? {}) as AdminAuthDeps['adminGroups'],
        staticTokens: config.auth.staticTokens,
      }
    : null;
  const adminNotConfigured: AdminAuthenticator = async () => {
    throw new GatewayError(
      'ERR_UNAUTHENTICATED',
      'The admin API needs sign-in (auth.oidc) to be configured.',
      {
        headers: { 'www-authenticate': 'Bearer realm="ocg"' },
      },
    );
  };
  const policies = {
    catalogue: services.catalogue,
    policies: config.policies,
    environment: clientEnvironment(config.clientEnvironment, services.publicUrl()),
  };
  const handlers: Record<string, Handler> = {
    ...oauthHandlers({
      signIn,
      config: { auth: config.auth },
      publicUrl: services.publicUrl,
      audience: services.audience,
      features: services.features,
      idpRecheck,
    }),
    ...policyHandlers(policies),
  };
  if (signIn) {
    Object.assign(
      handlers,
      signinHandlers(
        {
          config: { auth: config.auth as never },
          kek: signIn.kek,
          sessions: signIn.sessions,
          devices: signIn.devices,
          logger,
        },
        { publicUrl: services.publicUrl, ...(rp ? { rp } : {}) },
      ),
    );
  }
  if (signIn && adminAuth) {
    Object.assign(handlers, adminHandlers({ store, revocation: signIn.revocation, auth: adminAuth }));
  } else {
    // Without sign-in there are no sessions to manage and no way to authenticate an admin: say so.
    Object.assign(
      handlers,
      notConfigured(
        [
          'showVerificationPage',
          'submitVerificationPage',
          'completeIdpSignIn',
          'getAdminIdentity',
          'listSessions',
          'revokeSession',
          'revokeUserSessions',
          'listAdminApiKeys',
          'createAdminApiKey',
          'deleteAdminApiKey',
        ],
        'Sign-in is not configured on this gateway (auth.oidc).',
      ),
    );
  }
  return {
    handlers,
    authenticateAdmin: adminAuth ? createAdminAuthenticator(adminAuth) : adminNotConfigured,
  };
}

/** One upstream of the config, of its kind (every kind answers in the Anthropic shape). */
function createUpstream(u: UpstreamConfig, logger: Logger): Upstream {
  switch (u.kind) {
    case 'anthropic':
      return createAnthropicUpstream(u, logger);
    case 'bedrock':
      return createBedrockUpstream(u, logger);
    case 'vertex':
      return createVertexUpstream(u, logger);
  }
}

/**
 * The router of message requests: one route per catalogue model, to its `targets` in failover order (default: the
 * first upstream, with the catalogue id).
 */
function createMessageRouter(
  config: GatewayConfig,
  upstreams: readonly Upstream[],
  logger: Logger,
): MessageRouter {
  const byName = new Map(upstreams.map((u) => [u.name, u]));
  const first = upstreams[0];
  if (!first) throw new GatewayError('ERR_CONFIG_INVALID', 'invalid configuration: /upstreams: is required');
  const routes: Route[] = config.models.map((m) => ({
    model: m.id,
    targets: (m.targets ?? [{ upstream: first.name }]).map((t) => ({
      upstream: byName.get(t.upstream) as Upstream,
      model: t.model ?? m.id,
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
    })),
  }));
  const { breaker, ...limits } = config.routing;
  return createMessageRouterFrom(routes, {
    logger: logger.child({ component: 'router' }),
    breaker,
    ...limits,
  });
}

/** The protocol's `RoutesHealth` entry for one breaker snapshot. */
function routeTargetView(b: BreakerSnapshot): Record<string, unknown> {
  return {
    type: 'route_target',
    target: b.target,
    state: b.state,
    consecutive_failures: b.consecutiveFailures,
    error_rate: b.errorRate,
    requests: b.requests,
    opened_at: b.openedAt,
    next_probe_at: b.nextProbeAt,
  };
}

function sendJson(res: import('node:http').ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Handlers for operations a configuration leaves out: `404 not_found_error` naming what is missing. */
function notConfigured(operationIds: readonly string[], message: string): Record<string, Handler> {
  const handler: Handler = async () => {
    throw new GatewayError('ERR_NOT_FOUND', message);
  };
  return Object.fromEntries(operationIds.map((id) => [id, handler]));
}

/** Feature ids this build implements, given whether sign-in is configured. */
function implementedFeatures(signIn: boolean): string[] {
  return [
    'inference',
    'count-tokens',
    'protocol-document',
    'health',
    'ocg-configuration',
    'managed-settings',
    'models',
    'routing',
    'bedrock-passthrough',
    'vertex-passthrough',
    ...(signIn ? ['sign-in', 'admin'] : []),
  ];
}

/** How long aborted requests get to write their final error before connections are destroyed. */
const ABORT_FLUSH_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
