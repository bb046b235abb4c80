/**
 * A test bench for the OAuth handlers (src/handlers/oauth.ts): the session modules on PGlite in memory, the
 * handlers mounted on the gateway's real router and pipeline (on node:http) without the rest of the gateway, a controllable device-flow clock, a scriptable IdP re-check, and
 * `approve()`, which does what the verification page does after the IdP login (creates the pending session and
 * approves the user code) without the page.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createValidators, listOperations } from '@ocg/spec';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import { type IdpRecheck, type IdpRecheckResult, oauthHandlers } from '../src/handlers/oauth.ts';
import { createRouter } from '../src/http/router.ts';
import { createPipeline } from '../src/http/server.ts';
import { createLogger, type Logger } from '../src/log/logger.ts';
import { verifyAccessToken } from '../src/session/access-token.ts';
import { createDeviceAuthorizations, type DeviceAuthorizations } from '../src/session/device-codes.ts';
import { createKek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import type { Principal } from '../src/session/principal.ts';
import { createRevocation, type Revocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager, type SessionRecord } from '../src/session/sessions.ts';
import { createInferenceRecorder } from '../src/store/inference-log.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';

export const ACCESS_TOKEN_TTL_S = 3600;
export const INTERVAL_S = 5;
export const EXPIRES_IN_S = 600;
/** The core profile's features: the self-description then lists profile `core`. */
export const FEATURES = [
  'inference',
  'count-tokens',
  'protocol-document',
  'ocg-configuration',
  'sign-in',
  'managed-settings',
  'models',
];

export interface CapturedLogger {
  logger: Logger;
  lines: string[];
  records(): Array<Record<string, unknown>>;
}

/** Like helpers.ts's, kept here so this bench does not load the config module. */
export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export interface SendResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A plain node:http request (content-length set for a body), so tests control headers exactly. */
export function send(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = request(
      url,
      { method: o.method ?? (o.body === undefined ? 'GET' : 'POST'), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface Identity {
  subject: string;
  email: string | null;
  name: string | null;
  groups: string[];
}

export interface OAuthBench {
  /** Base URL of the server, also the configured issuer. */
  url: string;
  store: Store;
  keyring: KeyRing;
  sessions: SessionManager;
  devices: DeviceAuthorizations;
  revocation: Revocation;
  log: CapturedLogger;
  /** Moves the device-flow clock (polling intervals, expiry). */
  advance(seconds: number): void;
  /** The next re-checks' answers (a function throws → the IdP is unreachable); default: ok with the stored identity. */
  idp: {
    verdict: ((session: SessionRecord) => IdpRecheckResult | Promise<IdpRecheckResult>) | null;
    calls: number;
  };
  /** What the verification page does after a successful IdP login. */
  approve(userCode: string, identity?: Partial<Identity>): Promise<string>;
  /** Verifies an access token as a bearer endpoint would; `revocation` defaults to the bench's own (one replica). */
  verify(token: string, revocation?: Revocation): Promise<Principal>;
  close(): Promise<void>;
}

export const DEFAULT_IDENTITY: Identity = {
  subject: 'user-ada',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  groups: ['eng'],
};

export interface BenchOptions {
  revocationTtlMs?: number;
  /** False: the gateway has no sign-in configured (`services.signIn` null). */
  signIn?: boolean;
  /** Overrides of the self-description (default: read from the spec). */
  describe?: { protocolVersion?: string; profiles?: string[] };
}

/** A bearer operation the bench answers with the authenticated principal. */
export const BEARER_OPERATION = 'listModels';

export async function startOAuthBench(options: BenchOptions = {}): Promise<OAuthBench> {
  const store = await createStore('pglite:memory:', { logger: captureLogger().logger });
  await migrate(store, { logger: captureLogger().logger });
  const kek = createKek(randomBytes(32).toString('base64url'));
  const keyring = createKeyRing(store, kek, { accessTokenTtlS: ACCESS_TOKEN_TTL_S });
  await keyring.refresh();
  const revocation = createRevocation(store, { ttlMs: options.revocationTtlMs ?? 2000 });
  const sessions = createSessionManager(store, kek, {
    refreshTokenTtlS: 86_400,
    onSessionRevoked: revocation.noteRevoked,
  });
  let deviceClock = Date.now();
  const devices = createDeviceAuthorizations(store, { now: () => deviceClock });
  const log = captureLogger();
  const idp: OAuthBench['idp'] = { verdict: null, calls: 0 };
  const idpRecheck: IdpRecheck = {
    async recheck(session) {
      idp.calls++;
      if (idp.verdict) return idp.verdict(session);
      return { ok: true, identity: { email: session.email, name: session.name, groups: session.groups } };
    },
  };

  let issuer = '';
  const handlers = oauthHandlers({
    signIn: options.signIn === false ? null : { keyring, sessions, devices, revocation },
    idpRecheck,
    config: {
      auth: {
        accessTokenTtlS: ACCESS_TOKEN_TTL_S,
        clockToleranceS: 30,
        deviceAuthorization: { expiresInS: EXPIRES_IN_S, intervalS: INTERVAL_S },
      },
    },
    publicUrl: () => issuer,
    audience: () => issuer,
    features: FEATURES,
    ...(options.describe ?? {}),
  });
  // The real pipeline and router, on the OAuth operations plus one bearer endpoint to use the tokens on.
  const operations = (await listOperations()).filter(
    (o) => Object.hasOwn(handlers, o.operationId) || o.operationId === BEARER_OPERATION,
  );
  const router = createRouter(operations, {
    ...handlers,
    async [BEARER_OPERATION](ctx) {
      const body = JSON.stringify({ principal: ctx.principal });
      ctx.res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      ctx.res.end(body);
    },
  });
  const authenticator = createAuthenticator({
    staticTokens: [],
    accessTokens: {
      keyring,
      revocation,
      get issuer() {
        return issuer;
      },
      get audience() {
        return issuer;
      },
      clockToleranceS: 30,
    },
  });
  const pipeline = createPipeline({
    router,
    authenticator,
    authenticateAdmin: async () => {
      throw new Error('no admin operations here');
    },
    validators: await createValidators(),
    logger: log.logger,
    maxRequestBodyBytes: 65_536,
    recorder: createInferenceRecorder(store, log.logger),
    recordedOperations: new Set(),
    isDraining: () => false,
  });
  const server: Server = createServer((req, res) => pipeline.onRequest(req, res));
  server.on('clientError', (err, socket) => pipeline.onClientError(err, socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: issuer,
    store,
    keyring,
    sessions,
    devices,
    revocation,
    log,
    idp,
    advance(seconds) {
      deviceClock += seconds * 1000;
    },
    async approve(userCode, identity = {}) {
      const who = { ...DEFAULT_IDENTITY, ...identity };
      const { sessionId } = await sessions.createPendingSession({
        ...who,
        idpIssuer: 'https://idp.example.test',
        idpSubject: `idp-${who.subject}`,
        ttlS: 86_400,
      });
      if (!(await devices.approve(userCode, sessionId, who.subject))) throw new Error('approve refused');
      return sessionId;
    },
    verify(token, other = revocation) {
      return verifyAccessToken(keyring, other, token, { issuer, audience: issuer });
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
