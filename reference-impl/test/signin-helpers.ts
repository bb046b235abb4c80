/**
 * Test harness for the sign-in pages: the kit's mock IdP, an in-memory database with the session modules, and the
 * three handlers mounted on a plain node:http server (the way the pipeline calls them: the raw body of a POST,
 * `ctx.body.form` left for the handler's own parsing helper to fill in).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Operation } from '@ocg/spec';
import type * as oidc from 'openid-client';
import { type Browser, createBrowser, type Page } from '../../conformance/src/browser/index.ts';
import {
  type MockIdp,
  type MockIdpClient,
  type MockIdpUser,
  type MockIdpUserInput,
  startMockIdp,
} from '../../conformance/src/mocks/idp/index.ts';
import type { RequestContext } from '../src/http/context.ts';
import {
  createDeviceAuthorizations,
  type DeviceAuthorization,
  type DeviceAuthorizations,
} from '../src/session/device-codes.ts';
import { createKek, type Kek } from '../src/session/kek.ts';
import { createSessionManager, type SessionManager } from '../src/session/sessions.ts';
import { type OidcConfig, withOidcDefaults } from '../src/signin/config.ts';
import { createOidcRp, type OidcRp } from '../src/signin/oidc.ts';
import { createSigninPages, type SigninLimits, type SigninPages } from '../src/signin/verification.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';
import { captureLogger } from './helpers.ts';

export const KEK_TEXT = Buffer.alloc(32, 42).toString('base64');
/** A test header standing in for the client address (the harness's `clientAddress`). */
export const TEST_IP_HEADER = 'x-test-client-ip';

export interface HarnessOptions {
  seed?: number;
  users?: readonly MockIdpUserInput[];
  /** Leave sign-in unconfigured (no `auth.oidc`). */
  noOidc?: boolean;
  limits?: Partial<SigninLimits>;
  /** Intercepts every request the gateway makes to the IdP (tamper with answers). */
  idpFetch?: oidc.CustomFetch;
  /** Wraps the device authorizations the pages see (inject failures). */
  wrapDevices?: (devices: DeviceAuthorizations) => DeviceAuthorizations;
}

export interface Harness {
  url: string;
  idp: MockIdp;
  client: MockIdpClient;
  /** Mutable: tests change claim rules in place (the pages read it per request). */
  oidc: OidcConfig;
  store: Store;
  kek: Kek;
  sessions: SessionManager;
  devices: DeviceAuthorizations;
  pages: SigninPages;
  rp: OidcRp;
  log: ReturnType<typeof captureLogger>;
  /** Moves the clock of the device codes and the pages (the IdP keeps real time). */
  advance(ms: number): void;
  /** Replaces the IdP fetch hook (undefined: the real fetch). */
  setIdpFetch(fetch: oidc.CustomFetch | undefined): void;
  startDevice(): Promise<DeviceAuthorization>;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const idp = await startMockIdp({
    seed: options.seed ?? 4242,
    ...(options.users ? { users: options.users } : {}),
  });
  const log = captureLogger([]);
  const store = await createStore('pglite:memory:', { logger: log.logger });
  await migrate(store, { logger: log.logger });
  let offset = 0;
  const now = () => Date.now() + offset;
  const kek = createKek(KEK_TEXT);
  const sessions = createSessionManager(store, kek, { refreshTokenTtlS: 86_400, now });
  const devices = createDeviceAuthorizations(store, { now });

  let pages: SigninPages | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://gateway.invalid');
      const ctx = {
        requestId: 'req_test',
        req,
        res,
        operation: {} as Operation,
        url,
        startedAt: new Date(),
        signal: new AbortController().signal,
        logger: log.logger,
        principal: null,
        admin: null,
        params: {},
        body: req.method === 'POST' ? { raw: Buffer.concat(chunks), json: null, form: null } : null,
        facts: {},
      } as unknown as RequestContext;
      const route = `${req.method} ${url.pathname}`;
      const handler =
        route === 'GET /device'
          ? pages?.showVerificationPage
          : route === 'POST /device'
            ? pages?.submitVerificationPage
            : route === 'GET /oauth/callback'
              ? pages?.completeIdpSignIn
              : undefined;
      if (!handler) {
        res.writeHead(404).end();
        return;
      }
      void handler(ctx);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = await idp.registerClient({ redirectUris: [`${url}/oauth/callback`] });
  const oidcConfig = withOidcDefaults({
    issuer: idp.issuer,
    clientId: client.clientId,
    ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
  });
  let idpFetch = options.idpFetch;
  const rp = createOidcRp(oidcConfig, {
    fetch: (input, init) => (idpFetch ? idpFetch(input, init) : fetch(input, init)),
  });
  pages = createSigninPages({
    oidc: options.noOidc ? undefined : oidcConfig,
    publicUrl: url,
    sessionTtlS: 86_400,
    kek,
    sessions,
    devices: options.wrapDevices ? options.wrapDevices(devices) : devices,
    logger: log.logger,
    rp,
    ...(options.limits ? { limits: options.limits } : {}),
    clientAddress: (req: IncomingMessage) => {
      const h = req.headers[TEST_IP_HEADER];
      return typeof h === 'string' ? h : (req.socket.remoteAddress ?? 'unknown');
    },
    now,
  });
  const activePages = pages;
  return {
    url,
    idp,
    client,
    oidc: oidcConfig,
    store,
    kek,
    sessions,
    devices,
    pages: activePages,
    rp,
    log,
    advance(ms) {
      offset += ms;
    },
    setIdpFetch(f) {
      idpFetch = f;
    },
    startDevice: () => devices.startDeviceAuthorization({ clientId: 'claude-code' }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await store.close();
    },
  };
}

/** `main#page`'s data attributes: what a page says happened. */
export function outcome(page: Page): { page?: string; outcome?: string; error?: string } {
  const main = page.document.querySelector('main#page');
  const out: { page?: string; outcome?: string; error?: string } = {};
  const p = main?.getAttribute('data-page');
  const o = main?.getAttribute('data-outcome');
  const e = main?.getAttribute('data-error');
  if (p) out.page = p;
  if (o) out.outcome = o;
  if (e) out.error = e;
  return out;
}

export interface SignInSteps {
  /** The verification page as first shown. */
  form: Page;
  /** The IdP's sign-in page (after `Continue`). */
  idpLogin: Page;
  /** The IdP's redirect to the callback, not yet followed. */
  callback: Page;
}

/** Opens the verification page for `userCode`, continues and signs in at the IdP; stops before the callback. */
export async function toCallback(
  h: Harness,
  browser: Browser,
  userCode: string,
  user: Pick<MockIdpUser, 'email' | 'password'>,
): Promise<SignInSteps> {
  const stopAt = (u: URL) => u.href.startsWith(`${h.url}/oauth/callback`);
  const form = await browser.get(`${h.url}/device?user_code=${encodeURIComponent(userCode)}`);
  const idpLogin = await browser.submitForm(form, 'form#verify', {}, { submitter: 0, stopAt });
  if (!idpLogin.url.startsWith(`${h.idp.issuer}/interaction/`)) {
    throw new Error(
      `expected the IdP sign-in page, got ${idpLogin.status} ${idpLogin.url}: ${idpLogin.html.slice(0, 400)}`,
    );
  }
  const callback = await browser.submitForm(
    idpLogin,
    'form#login',
    { login: user.email, password: user.password },
    { stopAt },
  );
  if (!callback.location?.startsWith(`${h.url}/oauth/callback`)) {
    throw new Error(
      `expected a redirect to the callback, got ${callback.status} ${callback.url}: ${callback.html.slice(0, 400)}`,
    );
  }
  return { form, idpLogin, callback };
}

/** The whole browser side: verification page → IdP login → callback → result page. */
export async function signInWithBrowser(
  h: Harness,
  userCode: string,
  user: Pick<MockIdpUser, 'email' | 'password'>,
  browser: Browser = createBrowser(),
): Promise<{ result: Page; steps: SignInSteps; browser: Browser }> {
  const steps = await toCallback(h, browser, userCode, user);
  const result = await browser.get(steps.callback.location as string, { initiator: steps.callback.url });
  return { result, steps, browser };
}
