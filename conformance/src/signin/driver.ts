/**
 * The sign-in driver: does exactly what a client and its user do, and nothing a gateway could tell apart from
 * them. The client reads `/.well-known/oauth-authorization-server`, posts an empty form to the device
 * authorization endpoint and polls the token endpoint honouring `interval` and `slow_down`; the user opens
 * `verification_uri_complete` in the kit's browser, confirms the code by submitting the page's form, signs in at
 * the mock IdP's login form and is sent back to the gateway's callback. Every OAuth answer is checked against the
 * spec as it is read (the driver talks through the case's {@link GatewayClient}).
 *
 * Failures are the gateway's (`ERR_CASE_FAILED`), with the step that broke and what the page or endpoint said.
 *
 * @example
 * const driver = createSignInDriver({ baseUrl, client, idp, newBrowser });
 * const user = idp.createUser({ groups: ['engineering'] });
 * const tokens = await driver.signIn(user); // { accessToken, refreshToken, expiresIn, … }
 */
import type { Browser, BrowserOptions, Page } from '../browser/index.ts';
import { expectThat, fail } from '../errors.ts';
import type { MockIdp, MockIdpUser } from '../mocks/idp/index.ts';
import type { GatewayClient, HeaderList } from '../runner/client.ts';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** RFC 8414 metadata as the driver reads it. */
export interface AuthorizationServerMetadata {
  issuer: string;
  device_authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  grant_types_supported?: string[];
  [key: string]: unknown;
}

/** One answer of the device authorization endpoint (RFC 8628 §3.2). */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string | undefined;
  expiresIn: number;
  interval: number;
  /** When the kit received it (ms since the epoch). */
  issuedAt: number;
  headers: Record<string, string>;
  raw: Record<string, unknown>;
}

/** A successful token answer. */
export interface TokenSet {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  refreshToken: string | undefined;
  /** When the kit received it (ms since the epoch). */
  obtainedAt: number;
  /** `obtainedAt + expires_in` (ms since the epoch). */
  expiresAt: number;
  raw: Record<string, unknown>;
}

/** What an OAuth endpoint answered (status, headers, the parsed JSON body when there is one). */
export interface OAuthAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown> | null;
  text: string;
  /** `body.error` when the body is an RFC 6749 error object. */
  error: string | undefined;
}

export interface ApproveOptions {
  /** The browser to use (default: a fresh one). */
  browser?: Browser;
  /**
   * How the user reaches the code: `complete` opens `verification_uri_complete` and confirms the pre-filled code
   * (the default when the gateway gives one), `typed` opens `verification_uri` and types `typedCode`.
   */
  via?: 'complete' | 'typed';
  /** What the user types into the code field (default: the user code as shown). */
  typedCode?: string;
}

export interface SignInDriver {
  /** The gateway's RFC 8414 metadata (read once per driver). */
  metadata(): Promise<AuthorizationServerMetadata>;
  /** `POST device_authorization_endpoint` with `form` (default: an empty form, as Claude Code sends). */
  startDeviceAuthorization(form?: Record<string, string>): Promise<DeviceAuthorization>;
  /** A browser the case owns; closed when the case ends. */
  newBrowser(options?: BrowserOptions): Browser;
  /** The user opens the verification page (`complete`: with the code in the URL). */
  openVerificationPage(
    browser: Browser,
    device: DeviceAuthorization,
    via?: 'complete' | 'typed',
  ): Promise<Page>;
  /**
   * Submits the verification page's form as the user would: `approve` or `deny`, optionally typing a code. With
   * `stopAtIdp` the redirect to the IdP is not followed (the page returned is that redirect).
   */
  submitVerification(
    browser: Browser,
    page: Page,
    options: { action: 'approve' | 'deny'; userCode?: string; stopAtIdp?: boolean },
  ): Promise<Page>;
  /** The user signs in at the mock IdP's login page; returns the page the browser ends on. */
  loginAtIdp(browser: Browser, page: Page, user: Pick<MockIdpUser, 'email' | 'password'>): Promise<Page>;
  /**
   * The whole browser side of a sign-in: open the page, confirm, sign in at the IdP, land on the gateway's result
   * page (checked: the gateway's origin, status 200). Returns that page.
   */
  approve(device: DeviceAuthorization, user: MockIdpUser, options?: ApproveOptions): Promise<Page>;
  /** One token request with `form` (any grant), as given. */
  tokenRequest(form: Record<string, string> | string, headers?: HeaderList): Promise<OAuthAnswer>;
  /** One poll of the token endpoint for `device`. */
  poll(device: DeviceAuthorization): Promise<OAuthAnswer>;
  /**
   * Polls like a client until tokens arrive: the first poll `interval` after issue (or at once with
   * `immediately`: RFC 8628 §3.5 only spaces polls from each other), then every `interval` (plus 5 s after each
   * `slow_down`), up to the device code's expiry or `timeoutMs`. Fails on any other answer.
   */
  pollForTokens(
    device: DeviceAuthorization,
    options?: { timeoutMs?: number; immediately?: boolean },
  ): Promise<TokenSet>;
  /** The full device flow for `user`: start, approve in a fresh browser, poll (the first poll right after approval). */
  signIn(user: MockIdpUser, options?: ApproveOptions): Promise<TokenSet>;
  /** One `refresh_token` grant. */
  refresh(refreshToken: string): Promise<OAuthAnswer>;
  /** A `refresh_token` grant that must succeed (fails the case otherwise). */
  refreshTokens(refreshToken: string): Promise<TokenSet>;
  /** RFC 7009 revocation of `token`. */
  revoke(token: string, hint?: 'refresh_token' | 'access_token'): Promise<OAuthAnswer>;
}

export interface SignInDriverOptions {
  /** The gateway's base URL (what the user gives the client). */
  baseUrl: string;
  /** The spec-checked client of the case. */
  client: GatewayClient;
  /** The mock IdP (its origin tells the IdP's pages from the gateway's). */
  idp: Pick<MockIdp, 'origin'>;
  /** Creates a browser the caller closes (the runner closes a case's browsers when it ends). */
  newBrowser(options?: BrowserOptions): Browser;
  /** The case's deadline: polling stops when it fires. */
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Fields of OAuth answers that hold secrets: failure messages and report details show their length only. */
const SECRET_FIELDS = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'device_code',
  'user_code',
  'token',
]);
const USER_CODE = /\b[BCDFGHJKLMNPQRSTVWXZ]{4}-?[BCDFGHJKLMNPQRSTVWXZ]{4}\b/gi;

/** A copy of an OAuth answer body with its secrets replaced by `<N characters>` (for messages and reports). */
export function redactBody(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(
    Object.entries(body as Record<string, unknown>).map(([k, v]) => [
      k,
      SECRET_FIELDS.has(k) && typeof v === 'string' ? `<${v.length} characters>` : v,
    ]),
  );
}

/** What an OAuth answer was, for a failure message: status and error, or status and the fields (no secrets). */
export function describeAnswer(answer: OAuthAnswer): string {
  if (answer.error !== undefined) return `${answer.status} ${answer.error}`;
  if (answer.body !== null) return `${answer.status} with fields ${Object.keys(answer.body).join(', ')}`;
  return `${answer.status} ${JSON.stringify(answer.text.slice(0, 120).replace(USER_CODE, '****-****'))}`;
}

/** The visible text of a page, squeezed, for failure messages (never a whole page; user codes masked). */
export function pageText(page: Page, max = 300): string {
  const text = page.html
    .replace(/<(head|style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&(amp|lt|gt|quot);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"' })[e] ?? e)
    .replace(/\s+/g, ' ')
    .replace(USER_CODE, '****-****')
    .trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What a page says about itself: status, URL, and the `data-error`/`data-outcome` hints some gateways add. */
export function describePage(page: Page): string {
  const hints = page.document.querySelector('[data-error], [data-outcome]');
  const error = hints?.getAttribute('data-error');
  const outcome = hints?.getAttribute('data-outcome');
  const where = new URL(page.url);
  const extra = [outcome ? `outcome ${outcome}` : '', error ? `error ${error}` : '']
    .filter(Boolean)
    .join(', ');
  return `${page.status} ${where.origin}${where.pathname}${extra ? ` (${extra})` : ''}: ${JSON.stringify(pageText(page, 200))}`;
}

function pathOf(endpoint: string, what: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return fail(`the metadata's ${what} is not an absolute URL: ${JSON.stringify(endpoint)}`);
  }
  return `${url.pathname}${url.search}`;
}

function formBody(form: Record<string, string> | string): string {
  return typeof form === 'string' ? form : new URLSearchParams(form).toString();
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Reads a token answer that must be a success. */
export function toTokenSet(answer: OAuthAnswer, obtainedAt: number, what: string): TokenSet {
  expectThat(
    answer.status === 200 && answer.body !== null,
    `${what}: expected 200 with tokens, got ${describeAnswer(answer)}`,
    { body: redactBody(answer.body) },
  );
  const body = answer.body as Record<string, unknown>;
  const accessToken = asString(body.access_token);
  expectThat(accessToken, `${what}: the answer has no access_token`);
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 3600;
  return {
    accessToken,
    tokenType: asString(body.token_type) ?? '',
    expiresIn,
    refreshToken: asString(body.refresh_token),
    obtainedAt,
    expiresAt: obtainedAt + expiresIn * 1000,
    raw: body,
  };
}

/** Creates the driver for one case (or for the runner's default sign-in). */
export function createSignInDriver(options: SignInDriverOptions): SignInDriver {
  const { client, signal } = options;
  const idpOrigin = new URL(options.idp.origin).origin;
  let metadataPromise: Promise<AuthorizationServerMetadata> | undefined;

  async function oauth(
    operationId: string,
    path: string,
    form: Record<string, string> | string,
    headers: HeaderList = [],
  ): Promise<OAuthAnswer> {
    const given = Array.isArray(headers) ? headers : Object.entries(headers);
    const hasType = given.some(([n]) => n.toLowerCase() === 'content-type');
    const res = await client.send({
      operationId,
      method: 'POST',
      path,
      bearer: null,
      headers: [
        ...(hasType ? [] : ([['content-type', FORM_CONTENT_TYPE]] as Array<[string, string]>)),
        ...given,
      ],
      body: formBody(form),
    });
    const text = await res.text();
    let body: Record<string, unknown> | null = null;
    if (/json/i.test(res.contentType ?? '') && text.length > 0) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          body = parsed as Record<string, unknown>;
        }
      } catch {
        // the client's spec check reports a JSON content-type with a non-JSON body
      }
    }
    return { status: res.status, headers: res.headers, body, text, error: asString(body?.error) };
  }

  const driver: SignInDriver = {
    metadata() {
      metadataPromise ??= (async () => {
        const res = await client.send({
          operationId: 'getAuthorizationServerMetadata',
          path: '/.well-known/oauth-authorization-server',
          bearer: null,
        });
        const text = await res.text();
        expectThat(res.status === 200, `GET /.well-known/oauth-authorization-server answered ${res.status}`, {
          body: text.slice(0, 500),
        });
        const body = JSON.parse(text) as AuthorizationServerMetadata;
        expectThat(
          typeof body.device_authorization_endpoint === 'string' && typeof body.token_endpoint === 'string',
          'the authorization server metadata names no device_authorization_endpoint or token_endpoint',
          { body },
        );
        return body;
      })();
      metadataPromise.catch(() => {
        metadataPromise = undefined;
      });
      return metadataPromise;
    },

    async startDeviceAuthorization(form = {}) {
      const meta = await driver.metadata();
      const answer = await oauth(
        'startDeviceAuthorization',
        pathOf(meta.device_authorization_endpoint, 'device_authorization_endpoint'),
        form,
      );
      expectThat(
        answer.status === 200 && answer.body !== null,
        `POST device_authorization_endpoint answered ${describeAnswer(answer)}`,
        { body: redactBody(answer.body) },
      );
      const b = answer.body as Record<string, unknown>;
      const deviceCode = asString(b.device_code);
      const userCode = asString(b.user_code);
      const verificationUri = asString(b.verification_uri);
      expectThat(
        deviceCode && userCode && verificationUri,
        'the device authorization answer lacks device_code, user_code or verification_uri',
        { body: redactBody(b) },
      );
      return {
        deviceCode,
        userCode,
        verificationUri,
        verificationUriComplete: asString(b.verification_uri_complete),
        expiresIn: typeof b.expires_in === 'number' ? b.expires_in : 600,
        interval: typeof b.interval === 'number' ? b.interval : 5,
        issuedAt: Date.now(),
        headers: answer.headers,
        raw: b,
      };
    },

    newBrowser: (browserOptions) => options.newBrowser(browserOptions),

    async openVerificationPage(browser, device, via) {
      const useComplete = (via ?? (device.verificationUriComplete ? 'complete' : 'typed')) === 'complete';
      const url = useComplete ? device.verificationUriComplete : device.verificationUri;
      expectThat(url, 'the device authorization answer has no verification_uri_complete');
      const page = await browser.get(url, { stopAt: (u) => u.origin === idpOrigin });
      expectThat(
        page.status === 200,
        `opening the verification page (${useComplete ? 'verification_uri_complete' : 'verification_uri'}) gave ${describePage(page)}`,
      );
      return page;
    },

    async submitVerification(browser, page, { action, userCode, stopAtIdp }) {
      const form = page.forms.find((f) => f.fields.some((x) => x.name === 'user_code'));
      expectThat(form, `the verification page has no form with a user_code field: ${describePage(page)}`);
      const fields: Record<string, string> = {};
      if (userCode !== undefined) fields.user_code = userCode;
      const submitter = form.submitters.findIndex((s) => s.value === action);
      if (submitter < 0) fields.action = action;
      return browser.submitForm(page, form.index, fields, {
        ...(submitter >= 0 ? { submitter } : {}),
        ...(stopAtIdp ? { stopAt: (u: URL) => u.origin === idpOrigin } : {}),
      });
    },

    async loginAtIdp(browser, page, user) {
      expectThat(
        new URL(page.url).origin === idpOrigin && page.forms.some((f) => f.id === 'login'),
        `expected the IdP's sign-in page, got ${describePage(page)}`,
      );
      return browser.submitForm(page, '#login', { login: user.email, password: user.password });
    },

    async approve(device, user, approveOptions = {}) {
      const browser = approveOptions.browser ?? driver.newBrowser();
      const via = approveOptions.via ?? (device.verificationUriComplete ? 'complete' : 'typed');
      const page = await driver.openVerificationPage(browser, device, via);
      const typed =
        via === 'typed' ? (approveOptions.typedCode ?? device.userCode) : approveOptions.typedCode;
      const atIdp = await driver.submitVerification(browser, page, {
        action: 'approve',
        ...(typed === undefined ? {} : { userCode: typed }),
      });
      const gatewayOrigin = new URL(page.url).origin;
      let result = atIdp;
      if (new URL(atIdp.url).origin === idpOrigin) {
        result = await driver.loginAtIdp(browser, atIdp, user);
      } else {
        expectThat(
          atIdp.redirects.some((r) => new URL(r.location).origin === idpOrigin),
          `confirming the code did not send the browser to the IdP: ${describePage(atIdp)}`,
        );
      }
      expectThat(
        new URL(result.url).origin === gatewayOrigin,
        `after the IdP sign-in the browser did not come back to the gateway: ${describePage(result)}`,
      );
      expectThat(
        result.status === 200,
        `the gateway's sign-in result page is not a success: ${describePage(result)}`,
      );
      return result;
    },

    async tokenRequest(form, headers) {
      const meta = await driver.metadata();
      return oauth('exchangeToken', pathOf(meta.token_endpoint, 'token_endpoint'), form, headers);
    },

    poll: (device) => driver.tokenRequest({ grant_type: DEVICE_CODE_GRANT, device_code: device.deviceCode }),

    async pollForTokens(device, pollOptions = {}) {
      let interval = Math.max(1, device.interval);
      const deadline = Math.min(
        device.issuedAt + device.expiresIn * 1000,
        Date.now() + (pollOptions.timeoutMs ?? device.expiresIn * 1000),
      );
      let wait = pollOptions.immediately ? 0 : Math.max(0, device.issuedAt + interval * 1000 - Date.now());
      let last: OAuthAnswer | undefined;
      for (;;) {
        if (wait > 0) await sleep(wait, signal);
        const sentAt = Date.now();
        const answer = await driver.poll(device);
        if (answer.status === 200) return toTokenSet(answer, sentAt, 'the device-code token answer');
        last = answer;
        if (answer.error === 'slow_down') interval += 5;
        else if (answer.error !== 'authorization_pending') {
          return fail(
            `polling the token endpoint: expected authorization_pending, slow_down or tokens, got ${describeAnswer(answer)}`,
            { body: redactBody(answer.body) },
          );
        }
        wait = sentAt + interval * 1000 + 50 - Date.now();
        if (Date.now() + wait > deadline) {
          return fail(
            `no tokens before the device code expired or the poll deadline (last answer ${last.status} ${last.error})`,
          );
        }
      }
    },

    async signIn(user, approveOptions) {
      const device = await driver.startDeviceAuthorization();
      await driver.approve(device, user, approveOptions);
      // The user has approved already: the first poll need not wait (a gateway that counts the interval from
      // issue answers slow_down, and the next poll comes interval + 5 s later).
      return driver.pollForTokens(device, { immediately: true });
    },

    async refresh(refreshToken) {
      return driver.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
    },

    async refreshTokens(refreshToken) {
      const sentAt = Date.now();
      const answer = await driver.refresh(refreshToken);
      return toTokenSet(answer, sentAt, 'the refresh_token grant');
    },

    async revoke(token, hint) {
      const meta = await driver.metadata();
      expectThat(meta.revocation_endpoint, 'the authorization server metadata names no revocation_endpoint');
      return oauth('revokeToken', pathOf(meta.revocation_endpoint, 'revocation_endpoint'), {
        token,
        ...(hint ? { token_type_hint: hint } : {}),
      });
    },
  };
  return driver;
}
