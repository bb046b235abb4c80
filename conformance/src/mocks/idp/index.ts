/**
 * The mock OpenID Provider: `oidc-provider` (a certified OP) on 127.0.0.1 with fresh signing keys per start,
 * seeded random users, its own sign-in page, and controls to change a user's groups, disable or delete a user
 * mid-run. Authorization code with PKCE S256 (required), nonce, refresh tokens, userinfo; scopes
 * `openid email profile groups offline_access`; claims `email`, `email_verified`, `name`, `groups`, `hd` in the ID
 * token and userinfo. A disabled or deleted user is refused by the OP itself: login, refresh (`invalid_grant`) and
 * userinfo (`invalid_token`).
 *
 * @example
 * const idp = await startMockIdp({ seed: 42 });
 * const alice = idp.createUser({ groups: ['engineering'] });
 * const client = await idp.registerClient({ redirectUris: ['http://127.0.0.1:8080/callback'] });
 * // … the relying party discovers `idp.issuer`, the browser logs in with alice.email / alice.password …
 * idp.disableUser(alice.subject); // the next refresh_token grant fails with invalid_grant
 * await idp.close();
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, {
  type AdapterPayload,
  type Configuration,
  interactionPolicy,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { ConformanceError } from '../../errors.ts';
import { createRng } from '../../util/rng.ts';
import { createAdapterClass, IdpStore } from './adapter.ts';
import { createInteractionHandler } from './interaction.ts';
import {
  type MockIdpUser,
  type MockIdpUserInput,
  type MockIdpUserPatch,
  UserDirectory,
  userClaims,
} from './users.ts';

export type { LoginRefusal } from './interaction.ts';
export type { MockIdpUser, MockIdpUserInput, MockIdpUserPatch } from './users.ts';

/** The scopes the mock supports (all of them advertised in discovery). */
export const MOCK_IDP_SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access'] as const;

export interface MockIdpOptions {
  /** Seeds users, client ids/secrets and cookie keys (signing keys are always fresh). */
  seed: number;
  /** Port on 127.0.0.1 (default: any free port). */
  port?: number;
  /** Users created at start, in order (their seeded values come first in the run's sequence). */
  users?: readonly MockIdpUserInput[];
  /** A path the issuer ends with, e.g. `/tenant-a/v2.0` (default: none, the issuer is the origin). */
  issuerPath?: string;
  /** Lifetimes in seconds. */
  ttl?: {
    accessToken?: number;
    idToken?: number;
    refreshToken?: number;
    authorizationCode?: number;
    session?: number;
  };
  /** Rotate the refresh token on every use (default true; reusing a rotated one revokes the grant). */
  rotateRefreshTokens?: boolean;
}

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface MockIdpClientInput {
  /** Default: a seeded `ocg-client-…`. */
  clientId?: string;
  /** Default: 40 seeded characters (not used with `none`). */
  clientSecret?: string;
  /** Exact redirect URIs (web clients); native clients may use any port on loopback (RFC 8252 §7.3). */
  redirectUris: readonly string[];
  /** Default `client_secret_post` (what openid-client v6 uses when given a secret); `none` for a public client. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Default `web`. */
  applicationType?: 'web' | 'native';
  /** Default `RS256`; `ES256` is also available. */
  idTokenSignedResponseAlg?: 'RS256' | 'ES256';
  postLogoutRedirectUris?: readonly string[];
  /** Default: `['authorization_code', 'refresh_token']`. */
  grantTypes?: readonly ('authorization_code' | 'refresh_token')[];
}

export interface MockIdpClient {
  readonly clientId: string;
  /** Undefined for a public client (`none`). */
  readonly clientSecret: string | undefined;
  readonly redirectUris: readonly string[];
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  readonly applicationType: 'web' | 'native';
}

export type MockIdpEventType =
  | 'login'
  | 'login_refused'
  | 'login_aborted'
  | 'authorization'
  | 'authorization_error'
  | 'token'
  | 'token_refused'
  | 'userinfo'
  | 'userinfo_refused';

/** Something the OP did, in order. */
export interface MockIdpEvent {
  readonly seq: number;
  readonly at: number;
  readonly type: MockIdpEventType;
  readonly subject?: string | undefined;
  readonly clientId?: string | undefined;
  /** Grant type for token events, the OAuth error or refusal reason for refusals. */
  readonly detail?: string | undefined;
}

/** One HTTP request the OP received. */
export interface MockIdpRequest {
  readonly seq: number;
  readonly at: number;
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  /** Set once the response is finished. */
  status: number | undefined;
}

export interface MockIdp {
  /** `http://127.0.0.1:<port>` plus `issuerPath`; no trailing slash. */
  readonly issuer: string;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  readonly seed: number;
  /** `<issuer>/.well-known/openid-configuration`. */
  readonly discoveryUrl: string;
  /** The public signing keys (RS256 and ES256), as the JWKS endpoint serves them. */
  readonly jwks: { readonly keys: readonly JWK[] };
  /** The private signing keys, for cases that need a token signed by the IdP's own key. */
  readonly signingKeys: readonly JWK[];
  readonly events: readonly MockIdpEvent[];
  readonly requests: readonly MockIdpRequest[];
  /** Every current user (snapshots). */
  readonly users: readonly MockIdpUser[];
  createUser(input?: MockIdpUserInput): MockIdpUser;
  getUser(subject: string): MockIdpUser | undefined;
  /** The user whose email (case-insensitive) or subject is `login`. */
  findUser(login: string): MockIdpUser | undefined;
  updateUser(subject: string, patch: MockIdpUserPatch): MockIdpUser;
  setGroups(subject: string, groups: readonly string[]): MockIdpUser;
  /** Login, refresh and userinfo are refused until `enableUser`. */
  disableUser(subject: string): MockIdpUser;
  enableUser(subject: string): MockIdpUser;
  /** Removes the user: login, refresh and userinfo are refused from now on. */
  deleteUser(subject: string): void;
  registerClient(input: MockIdpClientInput): Promise<MockIdpClient>;
  /** Forgets the recorded events and requests. */
  clearLog(): void;
  close(): Promise<void>;
}

async function freshSigningKey(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return {
    ...jwk,
    kid: `${alg.toLowerCase()}-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}`,
    alg,
    use: 'sig',
  };
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}

function normalizeIssuerPath(path: string | undefined): string {
  if (!path || path === '/') return '';
  const trimmed = path.replace(/\/+$/, '');
  if (!trimmed.startsWith('/') || /[?#]/.test(trimmed)) {
    throw new ConformanceError('ERR_MOCK_IDP', `mock IdP: issuerPath must be an absolute path, got ${path}`);
  }
  return trimmed;
}

/** Starts the mock OpenID Provider on 127.0.0.1. */
export async function startMockIdp(options: MockIdpOptions): Promise<MockIdp> {
  const rng = createRng(options.seed).fork('mock-idp');
  const userRng = rng.fork('users');
  const clientRng = rng.fork('clients');
  const mount = normalizeIssuerPath(options.issuerPath);
  const users = new UserDirectory(userRng);
  for (const input of options.users ?? []) users.create(input);

  let events: MockIdpEvent[] = [];
  let requests: MockIdpRequest[] = [];
  let seq = 0;
  let requestSeq = 0;
  const record = (event: Omit<MockIdpEvent, 'seq' | 'at'>): void => {
    events.push({ seq: ++seq, at: Date.now(), ...event });
  };

  const sockets = new Set<Socket>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}${mount}`;

  const signingKeys = [await freshSigningKey('RS256'), await freshSigningKey('ES256')];
  const store = new IdpStore();
  const ttl = options.ttl ?? {};

  const policy = interactionPolicy.base();
  // A browser whose IdP session belongs to a user disabled or deleted since must sign in again (and be refused).
  policy
    .get('login')
    ?.checks.add(
      new interactionPolicy.Check(
        'account_unavailable',
        'the signed-in account is disabled or removed',
        (ctx) =>
          Boolean(ctx.oidc.session?.accountId) &&
          users.active(ctx.oidc.session?.accountId ?? '') === undefined,
      ),
    );

  const configuration: Configuration = {
    adapter: createAdapterClass(store),
    jwks: { keys: signingKeys } as Configuration['jwks'],
    cookies: {
      keys: [rng.string(32), rng.string(32)],
      names: { session: '_idp_session', interaction: '_idp_interaction', resume: '_idp_interaction_resume' },
    },
    scopes: [...MOCK_IDP_SCOPES],
    claims: {
      openid: ['sub', 'hd'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    discovery: { claim_types_supported: ['normal', 'distributed'] },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, sub) {
      const user = users.active(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: () => {
          // Read again at claim time: a group change shows in the very next ID token / userinfo.
          const current = users.active(sub) ?? user;
          return userClaims(current, issuer) as { sub: string };
        },
      };
    },
    async loadExistingGrant(ctx) {
      // Every client registered through the mock is first-party: grant what it asks for, never ask for consent.
      const client = ctx.oidc.client;
      const accountId = ctx.oidc.account?.accountId ?? ctx.oidc.session?.accountId;
      if (!client || !accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(client.clientId);
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      const grant =
        existing?.accountId === accountId
          ? existing
          : new ctx.oidc.provider.Grant({ accountId, clientId: client.clientId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      await grant.save();
      return grant;
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: options.rotateRefreshTokens ?? true,
    ttl: {
      AccessToken: ttl.accessToken ?? 3600,
      AuthorizationCode: ttl.authorizationCode ?? 60,
      IdToken: ttl.idToken ?? 3600,
      RefreshToken: ttl.refreshToken ?? 14 * 24 * 3600,
      Interaction: 3600,
      Session: ttl.session ?? 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      const esc = (v: unknown) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error - OCG mock IdP</title></head><body><h1>Error</h1><p id="error" data-error="${esc(out.error)}">${esc(out.error_description ?? out.error)}</p></body></html>`;
    },
  };

  const provider = new Provider(issuer, configuration);
  const subjectOf = (ctx: KoaContextWithOIDC): string | undefined =>
    ctx.oidc.account?.accountId ??
    ctx.oidc.entities.RefreshToken?.accountId ??
    ctx.oidc.entities.AuthorizationCode?.accountId;
  provider.on('grant.success', (ctx) =>
    record({
      type: 'token',
      subject: subjectOf(ctx),
      clientId: ctx.oidc.client?.clientId,
      detail: String(ctx.oidc.params?.grant_type),
    }),
  );
  provider.on('grant.error', (ctx, err) =>
    record({
      type: 'token_refused',
      subject: subjectOf(ctx),
      clientId: ctx.oidc.client?.clientId,
      detail: `${String(ctx.oidc.params?.grant_type)}: ${err.error}`,
    }),
  );
  provider.on('authorization.success', (ctx) =>
    record({
      type: 'authorization',
      subject: ctx.oidc.session?.accountId,
      clientId: ctx.oidc.client?.clientId,
    }),
  );
  provider.on('authorization.error', (ctx, err) =>
    record({ type: 'authorization_error', clientId: ctx.oidc.client?.clientId, detail: err.error }),
  );

  const handleInteraction = createInteractionHandler({
    provider,
    users,
    mount,
    record: (event) => record(event),
  });
  const callback = provider.callback();
  const userinfoPath = `${mount}${provider.pathFor('userinfo', { mountPath: '' })}`;

  async function handleOverage(req: IncomingMessage, res: ServerResponse, subject: string): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(auth)?.[1];
    const at = token ? await provider.AccessToken.find(token) : undefined;
    const user = users.active(subject);
    res.setHeader('content-type', 'application/json');
    if (!at || at.accountId !== subject || !user) {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
      res.end(
        JSON.stringify({
          error: { code: 'InvalidAuthenticationToken', message: 'Access token is invalid.' },
        }),
      );
      return;
    }
    res.end(JSON.stringify({ value: [...user.groups] }));
  }

  handler = (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const entry: MockIdpRequest = {
      seq: ++requestSeq,
      at: Date.now(),
      method: req.method ?? 'GET',
      url,
      status: undefined,
    };
    requests.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
      if (path === userinfoPath) {
        record(
          res.statusCode === 200
            ? { type: 'userinfo' }
            : {
                type: 'userinfo_refused',
                detail: String(res.getHeader('www-authenticate') ?? res.statusCode),
              },
        );
      }
    });
    const fail = (err: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain');
      }
      res.end(`mock IdP error: ${String(err)}`);
    };
    const interactionPrefix = `${mount}/interaction/`;
    if (path.startsWith(interactionPrefix)) {
      handleInteraction(req, res, path.slice(interactionPrefix.length)).catch(fail);
      return;
    }
    const overage = new RegExp(
      `^${mount.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/__ocg/graph/users/([^/]+)/getMemberObjects$`,
    ).exec(path);
    if (overage) {
      handleOverage(req, res, decodeURIComponent(overage[1] ?? '')).catch(fail);
      return;
    }
    if (mount) {
      if (path !== mount && !path.startsWith(`${mount}/`)) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain');
        res.end('not found');
        return;
      }
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
      req.url = url.slice(mount.length) || '/';
    }
    Promise.resolve(callback(req, res)).catch(fail);
  };

  return {
    issuer,
    origin,
    port,
    seed: options.seed,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    jwks: Object.freeze({ keys: Object.freeze(signingKeys.map(publicPart)) }),
    signingKeys: Object.freeze(signingKeys.map((k) => ({ ...k }))),
    get events() {
      return events;
    },
    get requests() {
      return requests;
    },
    get users() {
      return users.list();
    },
    createUser: (input) => users.create(input),
    getUser: (subject) => users.get(subject),
    findUser: (login) => users.findByLogin(login),
    updateUser: (subject, patch) => users.update(subject, patch),
    setGroups: (subject, groups) => users.update(subject, { groups }),
    disableUser: (subject) => users.setDisabled(subject, true),
    enableUser: (subject) => users.setDisabled(subject, false),
    deleteUser: (subject) => users.delete(subject),
    async registerClient(input) {
      const generatedId = `ocg-client-${clientRng.string(12)}`;
      const generatedSecret = clientRng.string(40);
      const clientId = input.clientId ?? generatedId;
      const method = input.tokenEndpointAuthMethod ?? 'client_secret_post';
      const clientSecret = method === 'none' ? undefined : (input.clientSecret ?? generatedSecret);
      const applicationType = input.applicationType ?? 'web';
      if (await provider.Client.find(clientId)) {
        throw new ConformanceError('ERR_MOCK_IDP', `mock IdP: client ${clientId} is registered already`);
      }
      const metadata: AdapterPayload = {
        client_id: clientId,
        ...(clientSecret === undefined ? {} : { client_secret: clientSecret }),
        client_name: clientId,
        redirect_uris: [...input.redirectUris],
        post_logout_redirect_uris: [...(input.postLogoutRedirectUris ?? [])],
        token_endpoint_auth_method: method,
        application_type: applicationType,
        grant_types: [...(input.grantTypes ?? ['authorization_code', 'refresh_token'])],
        response_types: ['code'],
        id_token_signed_response_alg: input.idTokenSignedResponseAlg ?? 'RS256',
      } as AdapterPayload;
      const adapter = new (createAdapterClass(store))('Client');
      await adapter.upsert(clientId, metadata, 0);
      try {
        await provider.Client.find(clientId);
      } catch (cause) {
        await adapter.destroy(clientId);
        const detail = (cause as { error_description?: string }).error_description ?? String(cause);
        throw new ConformanceError('ERR_MOCK_IDP', `mock IdP: invalid client metadata: ${detail}`, { cause });
      }
      return Object.freeze({
        clientId,
        clientSecret,
        redirectUris: Object.freeze([...input.redirectUris]),
        tokenEndpointAuthMethod: method,
        applicationType,
      });
    },
    clearLog() {
      events = [];
      requests = [];
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
      store.clear();
    },
  };
}
