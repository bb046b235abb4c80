/**
 * The kit's browser against a tiny node:http site: redirects of each kind, cookies per host with expiry and
 * SameSite, Fetch Metadata and Origin/Referer like a navigating browser, form discovery and submission.
 * Two sites: 127.0.0.1 (two ports: same-site, cross-origin) and 127.0.0.2 (cross-site).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowser, type Page, secFetchSite, siteOf } from '../src/browser/index.ts';
import { ConformanceError } from '../src/errors.ts';

interface Echo {
  /** The peer address the server saw. */
  remote: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const FORMS_HTML = `<!DOCTYPE html><html><body>
<form id="search" action="/echo?dropped=1"><input name="q" value="default q"><input type="submit" name="go" value="Go"></form>
<form id="main" name="mainform" method="POST" action="echo">
  <input type="hidden" name="csrf" value="tok-123">
  <input type="text" name="user" value="alice">
  <input type="password" name="password">
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="newsletter" value="yes">
  <input type="radio" name="color" value="red">
  <input type="radio" name="color" value="blue" checked>
  <select name="plan"><option value="free">Free</option><option value="pro" selected>Pro</option></select>
  <select name="region"><option>eu</option><option>us</option></select>
  <select name="tags" multiple><option selected>a</option><option>b</option><option selected>c</option></select>
  <textarea name="note">hello
world</textarea>
  <input type="text" name="off" value="x" disabled>
  <fieldset disabled><input name="inside-disabled" value="y"></fieldset>
  <input type="file" name="upload">
  <input type="text" value="no name">
  <button type="submit" name="action" value="approve">Approve</button>
  <button type="submit" name="action" value="deny" formaction="/echo?denied=1">Deny</button>
  <button type="button" name="noop">Nothing</button>
</form>
<input form="main" type="hidden" name="outside" value="o">
<form method="post"><input name="self" value="1"></form>
<form class="multi" method="post" action="/upload" enctype="multipart/form-data"><input name="f" value="1"></form>
</body></html>`;

function site(host: string): Promise<Server> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const q = url.searchParams;
    for (const c of q.getAll('set')) res.appendHeader('set-cookie', c);
    switch (url.pathname) {
      case '/redirect': {
        res.statusCode = Number(q.get('status') ?? 302);
        res.setHeader('location', q.get('to') ?? '/echo');
        res.end('moved');
        return;
      }
      case '/loop': {
        const n = Number(q.get('n'));
        res.statusCode = n > 0 ? 302 : 200;
        if (n > 0) res.setHeader('location', `/loop?n=${n - 1}`);
        res.end(n > 0 ? '' : 'done');
        return;
      }
      case '/forms':
        res.setHeader('content-type', 'text/html');
        res.end(FORMS_HTML);
        return;
      default: {
        const echo: Echo = {
          remote: req.socket.remoteAddress ?? '',
          method: req.method ?? '',
          url: url.href,
          headers: req.headers as Record<string, string>,
          body,
        };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(echo));
      }
    }
  });
  server.listen(0, host);
  return once(server, 'listening').then(() => server);
}

const urlOf = (server: Server, path: string) => {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address}:${port}${path}`;
};
const echo = (page: Page): Echo => JSON.parse(page.html) as Echo;
const cookieNames = (page: Page): string[] =>
  (echo(page).headers.cookie ?? '')
    .split(/;\s*/)
    .filter(Boolean)
    .map((c) => c.split('=')[0] as string)
    .sort();

let a: Server; // 127.0.0.1:p1
let a2: Server; // 127.0.0.1:p2 — same site as a, other origin
let b: Server; // 127.0.0.2 — another site

beforeAll(async () => {
  [a, a2, b] = await Promise.all([site('127.0.0.1'), site('127.0.0.1'), site('127.0.0.2')]);
});
afterAll(async () => {
  for (const s of [a, a2, b]) {
    s.closeAllConnections();
    s.close();
  }
});

describe('browser: client address', () => {
  it('connects from the local address it is given (another client IP on loopback)', async () => {
    const browser = createBrowser({ localAddress: '127.0.0.9' });
    const plain = createBrowser();
    try {
      expect(echo(await browser.get(urlOf(a, '/echo'))).remote).toBe('127.0.0.9');
      expect(echo(await plain.get(urlOf(a, '/echo'))).remote).toBe('127.0.0.1');
    } finally {
      await browser.close();
      await plain.close();
    }
  });
});

describe('browser: redirects', () => {
  it.each([
    [301, 'POST', 'GET'],
    [302, 'POST', 'GET'],
    [303, 'POST', 'GET'],
    [307, 'POST', 'POST'],
    [308, 'POST', 'POST'],
    [302, 'GET', 'GET'],
    [303, 'PUT', 'GET'],
    [307, 'PUT', 'PUT'],
  ])('%i after %s continues with %s', async (status, method, expected) => {
    const browser = createBrowser();
    const page = await browser.navigate(urlOf(a, `/redirect?status=${status}&to=/echo%3Fafter`), {
      method,
      body: new URLSearchParams({ k: 'v' }),
      initiator: urlOf(a, '/'),
    });
    const seen = echo(page);
    expect(page.status).toBe(200);
    expect(page.url).toBe(urlOf(a, '/echo?after'));
    expect(seen.method).toBe(expected);
    expect(seen.body).toBe(expected === 'GET' ? '' : 'k=v');
    expect(seen.headers['content-type']).toBe(
      expected === 'GET' ? undefined : 'application/x-www-form-urlencoded',
    );
    expect(page.redirects).toHaveLength(1);
    expect(page.redirects[0]).toMatchObject({ status, location: urlOf(a, '/echo?after') });
    expect(page.redirects[0]?.request.method).toBe(method);
  });

  it('follows up to 20 redirects and refuses the 21st', async () => {
    const browser = createBrowser();
    const ok = await browser.get(urlOf(a, '/loop?n=20'));
    expect(ok.html).toBe('done');
    expect(ok.redirects).toHaveLength(20);
    const err = await browser.get(urlOf(a, '/loop?n=21')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConformanceError);
    expect((err as ConformanceError).code).toBe('ERR_BROWSER');
  });

  it('resolves relative and cross-origin locations, and can stop before a URL', async () => {
    const browser = createBrowser();
    const target = urlOf(b, '/echo?x=1');
    const to = encodeURIComponent(`/redirect?status=302&to=${encodeURIComponent(target)}`);
    const page = await browser.get(urlOf(a, `/redirect?status=303&to=${to}`));
    expect(page.url).toBe(target);
    expect(page.redirects.map((r) => r.status)).toEqual([303, 302]);

    const stopped = await browser.get(urlOf(a, `/redirect?to=${encodeURIComponent(target)}`), {
      stopAt: (u) => u.host === new URL(target).host,
    });
    expect(stopped.status).toBe(302);
    expect(stopped.location).toBe(target);
    expect(stopped.url).toBe(urlOf(a, `/redirect?to=${encodeURIComponent(target)}`));

    const manual = await browser.get(urlOf(a, '/redirect?to=/echo'), { followRedirects: false });
    expect(manual.status).toBe(302);
    expect(manual.location).toBe(urlOf(a, '/echo'));

    const app = await browser.get(
      urlOf(a, `/redirect?to=${encodeURIComponent('com.example.app:/cb?code=1')}`),
    );
    expect(app.status).toBe(302);
    expect(app.location).toBe('com.example.app:/cb?code=1');
  });

  it('reports a network failure as ERR_BROWSER', async () => {
    const browser = createBrowser({ timeoutMs: 2000 });
    const closed = await site('127.0.0.1');
    const url = urlOf(closed, '/');
    closed.close();
    await expect(browser.get(url)).rejects.toMatchObject({ code: 'ERR_BROWSER' });
  });
});

describe('browser: cookies', () => {
  it('stores, sends, scopes by path and expires cookies', async () => {
    const browser = createBrowser();
    const set = ['s=1', 'scoped=2; Path=/only', 'gone=3', 'h=4; HttpOnly', 'sec=5; Secure']
      .map((c) => `set=${encodeURIComponent(c)}`)
      .join('&');
    await browser.get(urlOf(a, `/echo?${set}`));
    expect(cookieNames(await browser.get(urlOf(a, '/echo')))).toEqual(['gone', 'h', 's', 'sec']);
    expect(cookieNames(await browser.get(urlOf(a, '/only/echo')))).toEqual([
      'gone',
      'h',
      's',
      'scoped',
      'sec',
    ]);
    const jar = await browser.cookies(urlOf(a, '/'));
    expect(jar.find((c) => c.name === 'h')).toMatchObject({
      httpOnly: true,
      value: '4',
      hostOnly: true,
      expires: null,
    });

    await browser.get(urlOf(a, `/echo?set=${encodeURIComponent('gone=; Max-Age=0')}`));
    await browser.get(
      urlOf(a, `/echo?set=${encodeURIComponent('s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT')}`),
    );
    expect(cookieNames(await browser.get(urlOf(a, '/echo')))).toEqual(['h', 'sec']);
    await browser.get(urlOf(a, `/echo?set=${encodeURIComponent('later=1; Max-Age=3600')}`));
    const later = (await browser.cookies(urlOf(a, '/'))).find((c) => c.name === 'later');
    expect(later?.expires?.getTime()).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('keeps cookies per host: another host never sees them, another port on the same host does (as browsers)', async () => {
    const browser = createBrowser();
    await browser.get(urlOf(a, `/echo?set=${encodeURIComponent('host=a')}`));
    expect(cookieNames(await browser.get(urlOf(b, '/echo')))).toEqual([]);
    expect(cookieNames(await browser.get(urlOf(a2, '/echo')))).toEqual(['host']);
    expect(await browser.cookies(urlOf(b, '/'))).toEqual([]);
    await browser.clearCookies();
    expect(await browser.cookies(urlOf(a, '/'))).toEqual([]);
  });

  it('stores cookies set on redirect hops and sends them on the next hop', async () => {
    const browser = createBrowser();
    const to = encodeURIComponent(urlOf(b, '/echo'));
    const page = await browser.get(
      urlOf(
        a,
        `/redirect?set=${encodeURIComponent('fromA=1')}&to=${encodeURIComponent(`${urlOf(b, '/redirect')}?set=fromB%3D1&to=${to}`)}`,
      ),
    );
    expect(cookieNames(page)).toEqual(['fromB']);
    expect((await browser.cookies(urlOf(a, '/'))).map((c) => c.name)).toEqual(['fromA']);
  });

  it('enforces SameSite by navigation context', async () => {
    const browser = createBrowser();
    const set = [
      'strict=1; SameSite=Strict',
      'lax=1; SameSite=Lax',
      'none=1; SameSite=None; Secure',
      'plain=1',
    ]
      .map((c) => `set=${encodeURIComponent(c)}`)
      .join('&');
    await browser.get(urlOf(b, `/echo?${set}`));
    const all = ['lax', 'none', 'plain', 'strict'];
    // Typed into the address bar, or same-site: everything.
    expect(cookieNames(await browser.get(urlOf(b, '/echo')))).toEqual(all);
    expect(cookieNames(await browser.get(urlOf(b, '/echo'), { initiator: urlOf(b, '/page') }))).toEqual(all);
    // A link from another site: no Strict.
    const link = await browser.get(urlOf(b, '/echo'), { initiator: urlOf(a, '/') });
    expect(cookieNames(link)).toEqual(['lax', 'none', 'plain']);
    expect(link.request).toMatchObject({
      crossSite: true,
      sameSiteContext: 'lax',
      secFetchSite: 'cross-site',
    });
    // A form POST from another site: neither Strict nor Lax.
    const post = await browser.post(urlOf(b, '/echo'), { x: '1' }, { initiator: urlOf(a, '/') });
    expect(cookieNames(post)).toEqual(['none', 'plain']);
    // A same-site page that bounces through another site loses Strict too.
    const bounce = await browser.get(urlOf(a, `/redirect?to=${encodeURIComponent(urlOf(b, '/echo'))}`), {
      initiator: urlOf(b, '/'),
    });
    expect(cookieNames(bounce)).toEqual(['lax', 'none', 'plain']);
  });
});

describe('browser: Fetch Metadata, Origin and Referer', () => {
  it.each([
    ['typed', undefined, 'none'],
    ['same origin', 'A', 'same-origin'],
    ['same site, other port', 'A2', 'same-site'],
    ['other site', 'B', 'cross-site'],
  ] as const)('%s: Sec-Fetch-Site %s', async (_label, from, expected) => {
    const browser = createBrowser({ userAgent: 'TestAgent/1' });
    const origin =
      from === undefined ? undefined : urlOf(from === 'A' ? a : from === 'A2' ? a2 : b, '/start#frag');
    const get = echo(await browser.get(urlOf(a, '/echo'), { initiator: origin }));
    expect(get.headers['sec-fetch-site']).toBe(expected);
    expect(get.headers['sec-fetch-mode']).toBe('navigate');
    expect(get.headers['sec-fetch-dest']).toBe('document');
    expect(get.headers['user-agent']).toBe('TestAgent/1');
    expect(get.headers.origin).toBeUndefined();
    if (origin === undefined) {
      expect(get.headers.referer).toBeUndefined();
      return;
    }
    const initiatorOrigin = new URL(origin).origin;
    expect(get.headers.referer).toBe(from === 'A' ? origin.replace('#frag', '') : `${initiatorOrigin}/`);
    const post = echo(await browser.post(urlOf(a, '/echo'), { f: '1' }, { initiator: origin }));
    expect(post.headers.origin).toBe(initiatorOrigin);
    expect(post.headers['sec-fetch-site']).toBe(expected);
  });

  it('computes Sec-Fetch-Site over the redirect chain and taints Origin after a cross-origin hop', async () => {
    const browser = createBrowser();
    const back = encodeURIComponent(urlOf(a, '/echo'));
    const viaB = `${urlOf(b, '/redirect')}?status=307&to=${back}`;
    const page = await browser.post(
      urlOf(a, `/redirect?status=307&to=${encodeURIComponent(viaB)}`),
      { x: '1' },
      {
        initiator: urlOf(a, '/'),
      },
    );
    const seen = echo(page);
    expect(page.redirects.map((r) => r.request.headers.origin)).toEqual([
      new URL(urlOf(a, '/')).origin,
      new URL(urlOf(a, '/')).origin,
    ]);
    expect(page.redirects.map((r) => r.request.secFetchSite)).toEqual(['same-origin', 'cross-site']);
    expect(seen.headers['sec-fetch-site']).toBe('cross-site');
    expect(seen.headers.origin).toBe('null');
    expect(seen.body).toBe('x=1');
  });

  it('lets a case override headers (e.g. forge an Origin)', async () => {
    const browser = createBrowser();
    const seen = echo(
      await browser.post(
        urlOf(a, '/echo'),
        { x: '1' },
        { initiator: urlOf(b, '/'), headers: { Origin: 'http://evil.test' } },
      ),
    );
    expect(seen.headers.origin).toBe('http://evil.test');
    expect(browser.history.at(-1)?.headers.origin).toBe('http://evil.test');
  });

  it('exposes the site helpers', () => {
    expect(siteOf('http://a.b.example.co.uk:8080/x')).toBe('http://example.co.uk');
    expect(siteOf('http://127.0.0.1:1/')).toBe('http://127.0.0.1');
    expect(secFetchSite('http://x.example.com/', ['http://y.example.com/'])).toBe('same-site');
    expect(secFetchSite('http://example.com/', ['http://example.com/', 'https://example.com/'])).toBe(
      'cross-site',
    );
  });
});

describe('browser: forms', () => {
  it('finds forms, their action, method and default values', async () => {
    const browser = createBrowser();
    const page = await browser.get(urlOf(a, '/forms'));
    expect(browser.lastPage).toBe(page);
    expect(page.forms).toHaveLength(4);
    const [search, main, self] = page.forms;
    expect(search).toMatchObject({ id: 'search', method: 'GET', action: urlOf(a, '/echo?dropped=1') });
    expect(main).toMatchObject({ id: 'main', name: 'mainform', method: 'POST', action: urlOf(a, '/echo') });
    expect(self).toMatchObject({ method: 'POST', action: urlOf(a, '/forms') });
    expect(main?.fields.map((f) => [f.name, f.value])).toEqual([
      ['csrf', 'tok-123'],
      ['user', 'alice'],
      ['password', ''],
      ['remember', 'on'],
      ['color', 'blue'],
      ['plan', 'pro'],
      ['region', 'eu'],
      ['tags', 'a'],
      ['tags', 'c'],
      ['note', 'hello\nworld'],
      ['outside', 'o'],
    ]);
    expect(main?.submitters.map((s) => [s.name, s.value, s.text])).toEqual([
      ['action', 'approve', 'Approve'],
      ['action', 'deny', 'Deny'],
    ]);
  });

  it('submits a POST form: fields over defaults, null removes, arrays repeat, the first button clicked', async () => {
    const browser = createBrowser();
    const page = await browser.get(urlOf(a, '/forms'));
    const done = await browser.submitForm(page, 'form#main', {
      password: 's3cret pass',
      tags: ['b'],
      region: null,
      extra: ['1', '2'],
    });
    const seen = echo(done);
    expect(seen.method).toBe('POST');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(seen.headers.origin).toBe(new URL(page.url).origin);
    expect(seen.headers['sec-fetch-site']).toBe('same-origin');
    expect(seen.headers.referer).toBe(page.url);
    expect([...new URLSearchParams(seen.body)]).toEqual([
      ['csrf', 'tok-123'],
      ['user', 'alice'],
      ['password', 's3cret pass'],
      ['remember', 'on'],
      ['color', 'blue'],
      ['plan', 'pro'],
      ['tags', 'b'],
      ['note', 'hello\nworld'],
      ['outside', 'o'],
      ['extra', '1'],
      ['extra', '2'],
      ['action', 'approve'],
    ]);
  });

  it('honours formaction of the clicked button, GET forms, selection by index/name, and refuses unknown forms', async () => {
    const browser = createBrowser();
    const page = await browser.get(urlOf(a, '/forms'));
    const denied = echo(await browser.submitForm(page, 'mainform', {}, { submitter: 1 }));
    expect(denied.url).toBe(urlOf(a, '/echo?denied=1'));
    expect(new URLSearchParams(denied.body).get('action')).toBe('deny');

    const search = echo(await browser.submitForm(page, 0, { q: 'a b&c' }));
    expect(search.method).toBe('GET');
    expect(search.url).toBe(urlOf(a, '/echo?q=a+b%26c&go=Go'));

    await expect(browser.submitForm(page, 'form#nope')).rejects.toMatchObject({ code: 'ERR_BROWSER' });
    await expect(browser.submitForm(page, 9)).rejects.toMatchObject({ code: 'ERR_BROWSER' });
    await expect(browser.submitForm(page, 'form.multi')).rejects.toMatchObject({ code: 'ERR_BROWSER' });
    await expect(browser.submitForm(page, 'main', {}, { submitter: 'missing' })).rejects.toMatchObject({
      code: 'ERR_BROWSER',
    });
  });

  it('submits a form as if from another site when asked (a cross-site form post)', async () => {
    const browser = createBrowser();
    const page = await browser.get(urlOf(a, '/forms'));
    const seen = echo(await browser.submitForm(page, 'main', {}, { initiator: urlOf(b, '/attacker') }));
    expect(seen.headers.origin).toBe(new URL(urlOf(b, '/')).origin);
    expect(seen.headers['sec-fetch-site']).toBe('cross-site');
  });
});
