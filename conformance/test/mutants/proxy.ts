/**
 * A small interposing HTTP proxy for the kit's mutants: transparent by default (raw headers, streaming bodies,
 * hang-ups propagated both ways), with hooks that break exactly one behaviour.
 */
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type RawHeaders = Array<[string, string]>;

/** A request the proxy read whole (only for paths a `handle` hook claims). */
export interface BufferedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: RawHeaders;
  body: Buffer;
}

/** A response given whole. */
export interface BufferedResponse {
  status: number;
  headers: RawHeaders;
  body: Buffer;
}

export interface ProxyOptions {
  /** Rewrites the request headers before forwarding (Host is set to the target afterwards); `path`: the URL's path. */
  requestHeaders?: (headers: RawHeaders, path: string) => RawHeaders;
  /** Rewrites the response headers before relaying. */
  responseHeaders?: (headers: RawHeaders) => RawHeaders;
  /** Collect a text/event-stream response completely before sending any of it (the `buffers-sse` fault). */
  bufferSse?: boolean;
  /** Rewrites the response status. */
  status?: (status: number) => number;
  /** Keep the forwarded request going when the client hangs up (the `ignores-client-disconnect` fault). */
  ignoreClientHangUp?: boolean;
  /**
   * Takes over the requests whose path (without query) is in `paths` (or for which `paths` returns true): the proxy
   * reads the request whole and answers what `handle` returns; `forward()` sends the (possibly rewritten) request
   * to the target and reads its answer.
   */
  handle?: {
    paths: readonly string[] | ((path: string) => boolean);
    handle(
      req: BufferedRequest,
      forward: (req: BufferedRequest) => Promise<BufferedResponse>,
    ): Promise<BufferedResponse>;
  };
  /**
   * Rewrites a streamed response as it flows (nothing is held beyond what the rewriter holds): called once per
   * response with its path, status and headers; a rewriter returned replaces the headers and turns each body chunk
   * (and the end) into what is sent instead.
   */
  rewriteStream?: (path: string, status: number, headers: RawHeaders) => StreamRewriter | undefined;
}

/** What {@link ProxyOptions.rewriteStream} returns for a response it rewrites. */
export interface StreamRewriter {
  headers: RawHeaders;
  chunk(data: Buffer): Buffer;
  end(): Buffer;
}

export interface Proxy {
  url: string;
  /** Where requests go (may be set after start, e.g. once the gateway is listening). */
  target: string;
  close(): Promise<void>;
}

function pairs(raw: string[]): RawHeaders {
  const out: RawHeaders = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

export async function startProxy(target: string, options: ProxyOptions = {}): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: '', target, close: async () => {} };

  /**
   * Connections to the target come from the client's own loopback address, so a gateway that limits attempts per
   * client address sees the kit's browsers, not the proxy.
   */
  const sourceOf = (req: IncomingMessage): { localAddress?: string } => {
    const a = req.socket.remoteAddress?.replace(/^::ffff:/, '');
    return a?.startsWith('127.') ? { localAddress: a } : {};
  };

  const forward = (
    r: BufferedRequest,
    source: { localAddress?: string } = {},
    onRequest: (up: ReturnType<typeof httpRequest>) => void = () => {},
  ): Promise<BufferedResponse> =>
    new Promise((resolve, reject) => {
      const to = new URL(r.url, proxy.target);
      const headers: RawHeaders = [
        ['host', to.host],
        ...r.headers.filter(
          ([n]) => !['host', 'content-length', 'transfer-encoding'].includes(n.toLowerCase()),
        ),
        ['content-length', String(r.body.length)],
      ];
      const up = httpRequest(to, {
        method: r.method,
        headers: headers.flat() as unknown as OutgoingHttpHeaders,
        agent: false,
        ...source,
      });
      onRequest(up);
      up.on('error', reject);
      up.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 502,
            headers: pairs(res.rawHeaders).filter(
              ([n]) =>
                !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(
                  n.toLowerCase(),
                ),
            ),
            body: Buffer.concat(chunks),
          }),
        );
      });
      up.end(r.body);
    });

  const server = createServer((req, res) => {
    const hook = options.handle;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (hook && (typeof hook.paths === 'function' ? hook.paths(path) : hook.paths.includes(path))) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const buffered: BufferedRequest = {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: pairs(req.rawHeaders),
          body: Buffer.concat(chunks),
        };
        // A client that hangs up aborts the forwarded requests (hang-ups propagate, as on the streaming path).
        const forwarded: Array<ReturnType<typeof httpRequest>> = [];
        res.on('close', () => {
          if (!res.writableFinished) for (const up of forwarded) up.destroy();
        });
        hook
          .handle(buffered, (r) => forward(r, sourceOf(req), (up) => forwarded.push(up)))
          .then((out) => {
            res.writeHead(out.status, [...out.headers, ['content-length', String(out.body.length)]].flat());
            res.end(out.body);
          })
          .catch(() => res.socket?.destroy());
      });
      return;
    }
    const to = new URL(req.url ?? '/', proxy.target);
    let headers = pairs(req.rawHeaders).filter(([n]) => n.toLowerCase() !== 'host');
    headers = [['host', to.host], ...(options.requestHeaders?.(headers, to.pathname) ?? headers)];
    let responded = false;
    const upstream = httpRequest(to, {
      method: req.method,
      headers: headers.flat() as unknown as OutgoingHttpHeaders,
      agent: false,
      ...sourceOf(req),
    });
    const hangUp = () => {
      if (!res.writableFinished) upstream.destroy();
    };
    if (!options.ignoreClientHangUp) res.on('close', hangUp);
    else res.on('error', () => {});
    upstream.on('error', () => {
      req.unpipe(upstream);
      req.resume();
      if (!responded) res.socket?.destroy();
    });
    const end = (body?: Buffer) => res.end(body);
    upstream.on('response', (up: IncomingMessage) => {
      responded = true;
      const status = options.status?.(up.statusCode ?? 502) ?? up.statusCode ?? 502;
      let out = pairs(up.rawHeaders);
      out = options.responseHeaders?.(out) ?? out;
      const sse = /^text\/event-stream/i.test(up.headers['content-type'] ?? '');
      if (options.bufferSse && sse) {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          res.writeHead(status, out.flat());
          end(Buffer.concat(chunks));
        });
        up.on('error', () => res.destroy());
        return;
      }
      const rewriter = options.rewriteStream?.(path, status, out);
      if (rewriter) {
        out = rewriter.headers.filter(([n]) => !['content-length'].includes(n.toLowerCase()));
      }
      res.writeHead(status, out.flat());
      res.flushHeaders();
      up.on('data', (c: Buffer) => {
        const piece = rewriter ? rewriter.chunk(c) : c;
        if (!res.destroyed && piece.length > 0) res.write(piece);
      });
      up.on('end', () => end(rewriter?.end()));
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return proxy;
}
