/**
 * The kit's browser: enough of a web browser to drive sign-in pages over HTTP without a browser engine, on undici's
 * `request` (not `fetch`: fetch forces its own `Sec-Fetch-Mode: cors`, a navigation sends `navigate`). It follows
 * redirects itself (up to 20; 301/302 after POST and 303 become GET, 307/308 keep method and body), keeps cookies
 * in a tough-cookie jar (per host as browsers do — ports do not isolate cookies — with SameSite enforced per
 * request: strict when the whole chain is same-site with the initiator, lax for a cross-site GET navigation, none
 * for a cross-site POST), sends `Sec-Fetch-Site`/`Sec-Fetch-Mode`/`Sec-Fetch-Dest`/`Sec-Fetch-User`, `Origin` on
 * POST and `Referer` (strict-origin-when-cross-origin) like a browser navigating, and parses pages with
 * node-html-parser to find and submit forms.
 *
 * @example
 * const browser = createBrowser();
 * const login = await browser.get(authorizationUrl);                 // lands on the IdP's sign-in page
 * const done = await browser.submitForm(login, 'form#login', { login: user.email, password: user.password }, {
 *   stopAt: (url) => url.href.startsWith(redirectUri),               // don't fetch the RP's callback
 * });
 * done.location;                                                       // the callback URL with code and state
 */
import { type HTMLElement, parse } from 'node-html-parser';
import { CookieJar } from 'tough-cookie';
import { Agent, type Dispatcher, request } from 'undici';
import { ConformanceError } from '../errors.ts';
import {
  type FormInfo,
  type FormSubmitter,
  type FormValues,
  findForms,
  formEntries,
  pickForm,
} from './forms.ts';
import { isSameOrigin, isSameSite, type SecFetchSite, secFetchSite } from './site.ts';

export type { FormField, FormInfo, FormSubmitter, FormValues } from './forms.ts';
export { findForms, formEntries } from './forms.ts';
export {
  isSameOrigin,
  isSameSite,
  registrableDomain,
  type SecFetchSite,
  secFetchSite,
  siteOf,
} from './site.ts';

export const DEFAULT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) ocg-conformance-browser/1.0';
export const MAX_REDIRECTS = 20;

export interface BrowserOptions {
  userAgent?: string;
  /** Default 20 (as browsers). */
  maxRedirects?: number;
  /**
   * The local address the browser's connections come from (default: the system's choice). On Linux every
   * 127.0.0.0/8 address reaches a gateway on 127.0.0.1, so a case can act as another client IP.
   */
  localAddress?: string;
  /** Per request (default 15 s). */
  timeoutMs?: number;
}

export interface NavigateOptions {
  /** Default GET. */
  method?: string;
  /** Extra request headers; they override the ones the browser computes (e.g. a forged `Origin`). */
  headers?: Readonly<Record<string, string>>;
  /** A request body (form posts set `content-type` from the form). */
  body?: string | URLSearchParams;
  /**
   * Where the navigation starts: a page (a link or form on it) or any URL (an attacker's site). Absent: the user
   * typed the URL (`Sec-Fetch-Site: none`, every cookie sent, no `Origin`/`Referer`).
   */
  initiator?: string | URL | Page;
  /** Default true; false returns the first 3xx response as the page. */
  followRedirects?: boolean;
  /**
   * Not fetched: when a redirect points at a URL for which this returns true, the redirect response is returned
   * as the page (its `location` is that URL). Non-HTTP(S) redirect targets are never fetched either.
   */
  stopAt?: (url: URL) => boolean;
}

export interface SubmitOptions extends Omit<NavigateOptions, 'method' | 'body'> {
  /** The button "clicked": its name or index among the form's submitters (default: the first one). */
  submitter?: string | number;
}

/** One request the browser sent. */
export interface SentRequest {
  method: string;
  url: string;
  /** Lower-cased header names as sent. */
  headers: Record<string, string>;
  body: string | undefined;
  secFetchSite: SecFetchSite;
  /** True when this request is cross-site for its initiator (anywhere along the redirect chain). */
  crossSite: boolean;
  /** The SameSite context cookies were selected with. */
  sameSiteContext: 'strict' | 'lax' | 'none';
}

/** A redirect the browser followed (or stopped at). */
export interface RedirectHop {
  request: SentRequest;
  status: number;
  location: string;
}

export interface Page {
  /** The URL this response came from (after redirects). */
  url: string;
  status: number;
  headers: Headers;
  /** The response body as text (HTML or not). */
  html: string;
  document: HTMLElement;
  /** For a 3xx page (not followed or stopped at): the absolute redirect target. */
  location: string | undefined;
  /** The redirects followed to get here, oldest first. */
  redirects: readonly RedirectHop[];
  /** The request that produced this response. */
  request: SentRequest;
  /** The page's forms. */
  forms: readonly FormInfo[];
}

/** A cookie in the jar. */
export interface BrowserCookie {
  name: string;
  value: string;
  domain: string | null;
  path: string | null;
  /** Null for a session cookie. */
  expires: Date | null;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string | undefined;
  hostOnly: boolean | null;
}

export interface Browser {
  readonly userAgent: string;
  readonly jar: CookieJar;
  /** The last page any navigation returned. */
  readonly lastPage: Page | undefined;
  /** Every request sent, oldest first. */
  readonly history: readonly SentRequest[];
  get(url: string | URL, opts?: Omit<NavigateOptions, 'method' | 'body'>): Promise<Page>;
  /** A urlencoded form POST to `url` (e.g. a cross-site form on an attacker's page: pass `initiator`). */
  post(
    url: string | URL,
    fields: FormValues | URLSearchParams,
    opts?: Omit<NavigateOptions, 'method' | 'body'>,
  ): Promise<Page>;
  navigate(url: string | URL, opts?: NavigateOptions): Promise<Page>;
  /** Fills and submits a form of `page` (by index, CSS selector, id or name); defaults merged under `fields`. */
  submitForm(page: Page, form: string | number, fields?: FormValues, opts?: SubmitOptions): Promise<Page>;
  /** Cookies the jar holds for `url` (all SameSite values, HttpOnly included). */
  cookies(url: string | URL): Promise<BrowserCookie[]>;
  /** Stores a cookie as if `url` had answered with this `Set-Cookie`. */
  setCookie(setCookie: string, url: string | URL): Promise<void>;
  clearCookies(): Promise<void>;
  /** Closes the browser's connections. */
  close(): Promise<void>;
}

function initiatorUrl(initiator: NavigateOptions['initiator']): string | undefined {
  if (initiator === undefined) return undefined;
  if (typeof initiator === 'string') return new URL(initiator).href;
  if (initiator instanceof URL) return initiator.href;
  return initiator.url;
}

function toHeaders(raw: Dispatcher.ResponseData['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

function referrerFor(initiator: string, target: string): string {
  const from = new URL(initiator);
  from.hash = '';
  if (isSameOrigin(from, target)) return from.href;
  return `${from.origin}/`;
}

export function createBrowser(options: BrowserOptions = {}): Browser {
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const jar = new CookieJar(undefined, { allowSecureOnLocal: true, looseMode: true });
  const dispatcher = new Agent({
    keepAliveTimeout: 1000,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  const history: SentRequest[] = [];
  let lastPage: Page | undefined;

  async function navigate(target: string | URL, opts: NavigateOptions = {}): Promise<Page> {
    const from = initiatorUrl(opts.initiator);
    let url = new URL(target);
    let method = (opts.method ?? 'GET').toUpperCase();
    // A navigation with GET or HEAD has no body, whatever the caller passed.
    let body: string | undefined =
      opts.body === undefined || method === 'GET' || method === 'HEAD' ? undefined : String(opts.body);
    const extraHeaders = Object.fromEntries(
      Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    let contentType: string | undefined =
      extraHeaders['content-type'] ??
      (opts.body instanceof URLSearchParams ? 'application/x-www-form-urlencoded' : undefined);
    const chain: URL[] = [];
    const redirects: RedirectHop[] = [];
    let tainted = false;

    for (;;) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new ConformanceError('ERR_BROWSER', `the browser cannot fetch ${url.href}`);
      }
      chain.push(url);
      const site = secFetchSite(from, chain);
      const crossSite = from !== undefined && chain.some((u) => !isSameSite(u, from));
      const sameSiteContext: SentRequest['sameSiteContext'] = !crossSite
        ? 'strict'
        : method === 'GET' || method === 'HEAD'
          ? 'lax'
          : 'none';
      const headers: Record<string, string> = {
        'user-agent': userAgent,
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'accept-language': 'en-US,en;q=0.9',
        'sec-fetch-site': site,
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
        'sec-fetch-user': '?1',
      };
      if (from !== undefined) {
        headers.referer = referrerFor(from, url.href);
        if (method !== 'GET' && method !== 'HEAD') headers.origin = tainted ? 'null' : new URL(from).origin;
      }
      const cookie = await jar.getCookieString(url.href, { http: true, sameSiteContext });
      if (cookie) headers.cookie = cookie;
      if (body !== undefined && contentType) headers['content-type'] = contentType;
      for (const [k, v] of Object.entries(extraHeaders)) {
        if (k === 'content-type' && body === undefined) continue;
        headers[k] = v;
      }
      const sent: SentRequest = {
        method,
        url: url.href,
        headers,
        body,
        secFetchSite: site,
        crossSite,
        sameSiteContext,
      };
      history.push(sent);

      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: method as Dispatcher.HttpMethod,
          headers,
          body,
          dispatcher,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        throw new ConformanceError('ERR_BROWSER', `${method} ${url.href} failed: ${String(cause)}`, {
          cause,
        });
      }
      const responseHeaders = toHeaders(response.headers);
      const storeContext = crossSite ? 'lax' : 'strict';
      for (const setCookie of responseHeaders.getSetCookie()) {
        await jar.setCookie(setCookie, url.href, {
          http: true,
          sameSiteContext: storeContext,
          ignoreError: true,
        });
      }

      const status = response.statusCode;
      const locationHeader = responseHeaders.get('location');
      const isRedirect = [301, 302, 303, 307, 308].includes(status) && locationHeader !== null;
      const location = isRedirect ? new URL(locationHeader as string, url).href : undefined;
      const next = location === undefined ? undefined : new URL(location);
      const stop =
        !isRedirect ||
        opts.followRedirects === false ||
        next === undefined ||
        (next.protocol !== 'http:' && next.protocol !== 'https:') ||
        opts.stopAt?.(next) === true;

      if (!stop && next) {
        await response.body.dump();
        redirects.push({ request: sent, status, location: next.href });
        if (redirects.length > maxRedirects) {
          throw new ConformanceError(
            'ERR_BROWSER',
            `too many redirects (more than ${maxRedirects}) from ${target}`,
            {
              details: { redirects: redirects.map((r) => `${r.status} ${r.request.url} -> ${r.location}`) },
            },
          );
        }
        if (
          ((status === 301 || status === 302) && method === 'POST') ||
          (status === 303 && method !== 'GET' && method !== 'HEAD')
        ) {
          method = 'GET';
          body = undefined;
          contentType = undefined;
        }
        // Fetch's tainted origin: a cross-origin hop makes a later Origin header "null".
        if (from !== undefined && !isSameOrigin(next, url) && !isSameOrigin(url, from)) tainted = true;
        url = next;
        continue;
      }

      const html = await response.body.text();
      const document = parse(html, { comment: false });
      const page: Page = {
        url: url.href,
        status,
        headers: responseHeaders,
        html,
        document,
        location,
        redirects,
        request: sent,
        forms: findForms(document, url.href),
      };
      lastPage = page;
      return page;
    }
  }

  function pickSubmitter(form: FormInfo, which: string | number | undefined): FormSubmitter | undefined {
    if (which === undefined) return form.submitters[0];
    const found =
      typeof which === 'number' ? form.submitters[which] : form.submitters.find((s) => s.name === which);
    if (!found) {
      throw new ConformanceError(
        'ERR_BROWSER',
        `form ${form.id ?? form.index} has no submit button ${which}`,
      );
    }
    return found;
  }

  return {
    userAgent,
    jar,
    get lastPage() {
      return lastPage;
    },
    history,
    get: (url, opts) => navigate(url, { ...opts, method: 'GET' }),
    post: (url, fields, opts) => {
      const params =
        fields instanceof URLSearchParams
          ? fields
          : new URLSearchParams(
              Object.entries(fields).flatMap(([k, v]) =>
                v === null ? [] : (typeof v === 'string' ? [v] : [...v]).map((x): [string, string] => [k, x]),
              ),
            );
      return navigate(url, { ...opts, method: 'POST', body: params });
    },
    navigate,
    async submitForm(page, which, fields = {}, opts = {}) {
      const form = pickForm([...page.forms], which, page.url);
      const submitter = pickSubmitter(form, opts.submitter);
      const entries = formEntries(form, fields, submitter);
      const action = submitter?.formAction ? new URL(submitter.formAction, page.url).href : form.action;
      const method = submitter?.formMethod ?? form.method;
      const { submitter: _ignored, ...navOpts } = opts;
      const initiator = navOpts.initiator ?? page;
      if (method === 'GET') {
        const url = new URL(action);
        url.search = new URLSearchParams(entries).toString();
        return navigate(url, { ...navOpts, initiator, method: 'GET' });
      }
      if (form.enctype !== 'application/x-www-form-urlencoded') {
        throw new ConformanceError('ERR_BROWSER', `form enctype ${form.enctype} is not supported`);
      }
      return navigate(action, { ...navOpts, initiator, method: 'POST', body: new URLSearchParams(entries) });
    },
    async cookies(url) {
      const list = await jar.getCookies(new URL(url).href, { http: true });
      return list.map((c) => {
        const expiry = c.expiryTime();
        return {
          name: c.key,
          value: c.value,
          domain: c.domain,
          path: c.path,
          expires: expiry === undefined || !Number.isFinite(expiry) ? null : new Date(expiry),
          httpOnly: c.httpOnly,
          secure: c.secure,
          sameSite: c.sameSite,
          hostOnly: c.hostOnly,
        };
      });
    },
    async setCookie(setCookie, url) {
      await jar.setCookie(setCookie, new URL(url).href, { http: true });
    },
    async clearCookies() {
      await jar.removeAllCookies();
    },
    async close() {
      await dispatcher.close();
    },
  };
}
