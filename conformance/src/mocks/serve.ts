/**
 * Serves msw request handlers over real HTTP (node:http on loopback) so that an out-of-process gateway can talk to
 * the mocks. Each IncomingMessage becomes a WHATWG Request, msw's `getResponse(handlers, request)` answers it, and
 * the Response is written back chunk by chunk, each chunk flushed before the next is read: nothing is buffered, so
 * a gateway that buffers a stream is the only thing that can delay it. The server notices when the client (the
 * gateway) closes its connection early and records it on the exchange.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getResponse, type RequestHandler } from 'msw';

/**
 * A response header a handler sets to ask the server to destroy the connection instead of answering
 * (an upstream that resets the connection before sending headers). Never written to the wire.
 */
export const DESTROY_CONNECTION_HEADER = 'x-ocg-mock-destroy-connection';

/** The error a handler's body stream fails with to make the server destroy the connection mid-body. */
export class ConnectionCut extends Error {
  constructor() {
    super('mock cut the connection');
    this.name = 'ConnectionCut';
  }
}

/** How an exchange ended. */
export type ExchangeOutcome = 'completed' | 'client-closed' | 'server-destroyed';

/** One request received by a served mock, and what the mock answered. */
export interface Exchange {
  /** 1-based sequence number within the server's life. */
  readonly seq: number;
  /**
   * 1-based sequence number of the TCP connection the request came on: two exchanges with the same number shared a
   * kept-alive connection (a gateway that cuts its upstream connections after every stream never repeats one).
   */
  readonly connection: number;
  readonly method: string;
  /** Path and query string exactly as received (e.g. `/v1/messages?beta=true`). */
  readonly url: string;
  /** Lower-cased header names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Header lines exactly as received, in order. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** The request body as text (UTF-8). */
  readonly body: string;
  readonly receivedAt: number;
  /** True once the client closed the connection before the response was completely written. */
  closedByClient: boolean;
  /** Settles when the exchange ends. */
  readonly outcome: Promise<ExchangeOutcome>;
  /** What the server wrote: status and headers once sent, body text so far. */
  response: { status: number; headers: Record<string, string>; body: string } | undefined;
}

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Called for every request before the handlers run; return false to leave it out of the records. */
  onExchange?: (exchange: Exchange) => boolean | undefined;
  /** Answer for requests no handler matched (default: 404 JSON). */
  onUnhandled?: (request: Request) => Response;
}

export interface ServedMock {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

function collectHeaders(req: IncomingMessage): {
  headers: Record<string, string>;
  raw: Array<readonly [string, string]>;
} {
  const headers: Record<string, string> = {};
  const raw: Array<readonly [string, string]> = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    raw.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { headers, raw };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function writeChunk(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** Starts an HTTP server answering with `handlers`. */
export async function serveHandlers(
  handlers: ReadonlyArray<RequestHandler>,
  options: ServeOptions = {},
): Promise<ServedMock> {
  const host = options.host ?? '127.0.0.1';
  let seq = 0;
  const sockets = new Set<Socket>();
  const connectionIds = new WeakMap<Socket, number>();
  let connections = 0;

  const server = createServer({ noDelay: true }, (req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    connectionIds.set(socket, ++connections);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    let settle!: (outcome: ExchangeOutcome) => void;
    const outcome = new Promise<ExchangeOutcome>((resolve) => {
      settle = resolve;
    });
    let finished = false;
    let destroyedByUs = false;
    const { headers, raw } = collectHeaders(req);
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      settle('client-closed');
      return;
    }
    const exchange: Exchange = {
      seq: ++seq,
      connection: connectionIds.get(req.socket) ?? 0,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers,
      rawHeaders: raw,
      body: body.toString('utf8'),
      receivedAt: Date.now(),
      closedByClient: false,
      outcome,
      response: undefined,
    };
    res.on('close', () => {
      if (finished) return settle('completed');
      if (destroyedByUs) return settle('server-destroyed');
      exchange.closedByClient = true;
      abort.abort(new Error('client closed the connection'));
      settle('client-closed');
    });
    options.onExchange?.(exchange);

    const requestHeaders = new Headers();
    for (const [name, value] of raw) {
      try {
        requestHeaders.append(name, value);
      } catch {
        // A header the WHATWG Headers class refuses: it stays in `exchange.rawHeaders`.
      }
    }
    const method = exchange.method;
    const request = new Request(`http://${host}:${(server.address() as AddressInfo).port}${exchange.url}`, {
      method,
      headers: requestHeaders,
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
      signal: abort.signal,
    });

    let response: Response | undefined;
    try {
      response = await getResponse(handlers as RequestHandler[], request);
    } catch (err) {
      response = Response.json(
        { type: 'error', error: { type: 'api_error', message: `mock handler failed: ${String(err)}` } },
        { status: 500 },
      );
    }
    response ??=
      options.onUnhandled?.(request) ??
      Response.json(
        {
          type: 'error',
          error: { type: 'not_found_error', message: `no mock for ${method} ${exchange.url}` },
        },
        { status: 404 },
      );
    if (res.destroyed) return;

    if (response.headers.has(DESTROY_CONNECTION_HEADER)) {
      destroyedByUs = true;
      req.socket.destroy();
      return;
    }

    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    const setCookies = response.headers.getSetCookie();
    res.statusCode = response.status;
    for (const [name, value] of Object.entries(outHeaders)) {
      if (name === 'set-cookie') res.setHeader(name, setCookies);
      else res.setHeader(name, value);
    }
    exchange.response = { status: response.status, headers: outHeaders, body: '' };
    res.flushHeaders();

    if (response.body) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (res.destroyed) return;
          await writeChunk(res, value);
          exchange.response.body += decoder.decode(value, { stream: true });
        }
      } catch (err) {
        if (res.destroyed) return;
        destroyedByUs = true;
        if (!(err instanceof ConnectionCut)) res.emit('mockError', err);
        req.socket.destroy();
        return;
      }
    }
    finished = true;
    res.end();
  }

  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
