/**
 * A test bench for the OAuth handlers (src/handlers/oauth.ts): the session modules on PGlite in memory, the
 * handlers mounted on a small node:http server, a controllable device-flow clock, a scriptable IdP re-check, and
 * `approve()`, which does what the verification page does after the IdP login (creates the pending session and
 * approves the user code) without the page.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Operation } from '@ocg/spec';
import { type IdpRecheck, type IdpRecheckResult, oauthHandlers } from '../src/handlers/oauth.ts';
import type { Handler, RequestContext } from '../src/http/context.ts';
import { createLogger, type Logger } from '../src/log/logger.ts';
import { verifyAccessToken } from '../src/session/access-token.ts';
import { createDeviceAuthorizations, type DeviceAuthorizations } from '../src/session/device-codes.ts';
import { createKek } from '../src/session/kek.ts';
import { createKeyRing, type KeyRing } from '../src/session/keys.ts';
import type { Principal } from '../src/session/principal.ts';
import { createRevocation, type Revocation } from '../src/session/revocation.ts';
import { createSessionManager, type SessionManager, type SessionRecord } from '../src/session/sessions.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';

export const ACCESS_TOKEN_TTL_S = 3600;
export const INTERVAL_S = 5;
export const EXPIRES_IN_S = 600;
export const PROTOCOL_VERSION = '0.1.0';
export const FEATURES = ['inference', 'count-tokens', 'protocol-document', 'ocg-configuration', 'sign-in'];

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
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
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

const OPERATIONS: Array<{ operationId: string; method: 'get' | 'post'; path: string }> = [
  {
    operationId: 'getAuthorizationServerMetadata',
    method: 'get',
    path: '/.well-known/oauth-authorization-server',
  },
  { operationId: 'getOcgConfiguration', method: 'get', path: '/.well-known/ocg-configuration' },
  { operationId: 'startDeviceAuthorization', method: 'post', path: '/oauth/device_authorization' },
  { operationId: 'exchangeToken', method: 'post', path: '/oauth/token' },
  { operationId: 'revokeToken', method: 'post', path: '/oauth/revoke' },
];

export const DEFAULT_IDENTITY: Identity = {
  subject: 'user-ada',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  groups: ['eng'],
};

export async function startOAuthBench(options: { revocationTtlMs?: number } = {}): Promise<OAuthBench> {
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
  let handlers: Record<string, Handler> = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', issuer);
      const op = OPERATIONS.find((o) => o.path === url.pathname && o.method.toUpperCase() === req.method);
      const handler = op && handlers[op.operationId];
      if (!op || !handler) {
        res.writeHead(404).end();
        return;
      }
      const controller = new AbortController();
      const ctx = {
        requestId: `req_${randomBytes(8).toString('hex')}`,
        req,
        res,
        operation: { ...op, feature: 'sign-in', requirements: [], security: 'none' } as Operation,
        url,
        startedAt: new Date(),
        signal: controller.signal,
        logger: log.logger,
        principal: null,
        body: op.method === 'post' ? { raw: Buffer.concat(chunks), json: null } : null,
        facts: {},
      } as RequestContext;
      handler(ctx).catch((err: unknown) => {
        log.logger.error('handler threw', { err });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handlers = oauthHandlers({
    keyring,
    sessions,
    devices,
    revocation,
    idpRecheck,
    config: {
      auth: {
        issuer,
        accessTokenTtlS: ACCESS_TOKEN_TTL_S,
        deviceAuthorization: { expiresInS: EXPIRES_IN_S, intervalS: INTERVAL_S },
      },
    },
    features: FEATURES,
    profiles: ['core'],
    protocolVersion: PROTOCOL_VERSION,
  });

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
