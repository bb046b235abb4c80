/**
 * Boot and shutdown of one gateway process. Everything that must survive the process lives in PostgreSQL, so any
 * number of these can run behind a load balancer sharing one database.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createValidators, listOperations, renderProtocolMarkdown } from '@ocg/spec';
import { createAuthenticator } from './auth/authenticate.ts';
import { configSecrets, type GatewayConfig } from './config/load.ts';
import { GatewayError } from './errors.ts';
import { inferenceHandlers, RECORDED_OPERATIONS } from './handlers/inference.ts';
import { metaHandlers } from './handlers/meta.ts';
import type { Handler } from './http/context.ts';
import { createRouter } from './http/router.ts';
import { type AdminAuthenticator, createPipeline } from './http/server.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { createModelCatalogue } from './policy/models.ts';
import type { GatewayServices, SignInServices } from './services.ts';
import { createDeviceAuthorizations } from './session/device-codes.ts';
import { createKek } from './session/kek.ts';
import { createKeyRing } from './session/keys.ts';
import { createRevocation } from './session/revocation.ts';
import { createSessionManager } from './session/sessions.ts';
import { createInferenceRecorder } from './store/inference-log.ts';
import { loadMigrations, migrate } from './store/migrate.ts';
import { createStore, type Store } from './store/store.ts';
import { createAnthropicUpstream, type Upstream } from './upstream/anthropic.ts';

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
  let upstream: Upstream | undefined;
  try {
    await migrate(store, { logger, migrations });
    const upstreamConfig = config.upstreams[0];
    if (!upstreamConfig) throw new Error('no upstream configured');
    upstream = createAnthropicUpstream(upstreamConfig, logger);

    const signIn = await startSignInServices(config, store, logger);
    let publicUrl = config.auth.issuer?.replace(/\/+$/, '') ?? '';
    const services: GatewayServices = {
      config,
      logger,
      store,
      catalogue: createModelCatalogue(config.models),
      signIn,
      publicUrl: () => publicUrl,
      audience: () => config.auth.audience ?? publicUrl,
      features: implementedFeatures(signIn !== null),
    };
    if (!signIn) {
      logger.warn('sign-in is not configured (no auth.oidc): only static development tokens authenticate');
    }

    let draining = false;
    const handlers: Record<string, Handler> = {
      ...inferenceHandlers(upstream),
      ...metaHandlers({ protocolMarkdown, store, migrations, isDraining: () => draining }),
    };
    // TEMPORARY while issue 3's handlers land: operations without a handler answer 501.
    for (const op of operations) {
      handlers[op.operationId] ??= async () => {
        throw new GatewayError('ERR_NOT_FOUND', `${op.operationId} is not implemented yet.`, {
          status: 501,
          type: 'not_supported',
        });
      };
    }
    const router = createRouter(operations, handlers);
    const recorder = createInferenceRecorder(store, logger);
    const authenticateAdmin: AdminAuthenticator = async () => {
      throw new GatewayError('ERR_UNAUTHENTICATED', 'Admin authentication is not available yet.');
    };
    const pipeline = createPipeline({
      router,
      authenticator: createAuthenticator({
        staticTokens: config.auth.staticTokens,
        accessTokens: signIn
          ? {
              keyring: signIn.keyring,
              revocation: signIn.revocation,
              issuer: publicUrl,
              audience: config.auth.audience ?? publicUrl,
              clockToleranceS: config.auth.clockToleranceS,
            }
          : null,
      }),
      authenticateAdmin,
      validators,
      logger,
      maxRequestBodyBytes: config.server.maxRequestBodyBytes,
      recorder,
      recordedOperations: RECORDED_OPERATIONS,
      isDraining: () => draining,
    });

    const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, pipeline.onRequest);
    server.on('clientError', pipeline.onClientError);
    await listen(server, config.server.host, config.server.port);
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    if (publicUrl === '') publicUrl = url;
    logger.info('gateway listening', { url, upstream: upstreamConfig.name, operations: operations.length });

    const activeUpstream = upstream;
    let closing: Promise<void> | null = null;
    const close = async (): Promise<void> => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = config.server.shutdownGraceMs;
      if (pipeline.inFlight.size > 0) {
        logger.info('draining in-flight requests', { in_flight: pipeline.inFlight.size, grace_ms: grace });
        let timer: NodeJS.Timeout | undefined;
        const expired = await Promise.race([
          Promise.all([...pipeline.inFlight].map((f) => f.done)).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), grace);
          }),
        ]);
        clearTimeout(timer);
        if (expired) {
          logger.warn('shutdown grace period over: aborting in-flight requests', {
            in_flight: pipeline.inFlight.size,
          });
          const reason = new GatewayError(
            'ERR_SHUTTING_DOWN',
            'The gateway is shutting down; retry the request.',
          );
          const aborted = [...pipeline.inFlight];
          for (const f of aborted) f.controller.abort(reason);
          // A moment for the aborted requests to tell their clients (503 or an SSE error event) before the
          // remaining connections are cut.
          await Promise.race([Promise.all(aborted.map((f) => f.done)), sleep(ABORT_FLUSH_MS)]);
        }
      }
      server.closeAllConnections();
      await closed;
      await recorder.flush();
      await activeUpstream
        .close()
        .catch((err: unknown) => logger.warn('closing upstream pool failed', { err }));
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
    await upstream?.close().catch(() => {});
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
    ...(signIn ? ['sign-in'] : []),
    'admin',
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
