/**
 * The HTTP client the cases use to talk to the gateway under test. Built on node:http so a case controls every
 * header line (hop-by-hop headers, odd spacing), the framing (content-length or chunked) and the moment it hangs
 * up. Each response is checked against the spec as it is read: status and content-type when it arrives, the JSON
 * body when it is read, each SSE event as it is parsed.
 */
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConformanceError } from '../errors.ts';
import { parseEventData, type SseEvent, SseParser } from '../util/sse.ts';
import type { SpecChecker } from './check.ts';

export type HeaderList = Array<[string, string]> | Record<string, string>;

export interface SendOptions {
  /** The spec operation the request exercises; the response is validated against it. */
  operationId: string;
  method?: string;
  /** Path and query, e.g. `/v1/messages?beta=true`. */
  path: string;
  /**
   * Headers, sent in this order after the defaults they do not override (`authorization` from `bearer`,
   * `anthropic-version: 2023-06-01`, and `content-type: application/json` when there is a body). A header given
   * here replaces the default of the same name.
   */
  headers?: HeaderList;
  /** Body: objects are sent as JSON, strings and buffers as they are. */
  body?: unknown;
  /** The bearer token to send (default: the adapter's); `null` sends no `authorization`. */
  bearer?: string | null;
  /** Send the body with `transfer-encoding: chunked` in this many pieces instead of a `content-length`. */
  chunked?: number;
  /** Abort the request (in addition to the case's own deadline). */
  signal?: AbortSignal;
}

export interface GatewayResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawHeaders: Array<[string, string]>;
  contentType: string | null;
  /** Reads the whole body as text; JSON bodies are validated against the spec. */
  text(): Promise<string>;
  /** Reads and parses a JSON body (validated against the spec). */
  json<T = unknown>(): Promise<T>;
  /** Reads the body as SSE, yielding events as they arrive; each one is validated against the spec. */
  events(): AsyncGenerator<SseEvent & { json: unknown }>;
  /**
   * Reads the raw body as it arrives, chunk by chunk (for binary streams such as an AWS event stream; status and
   * content-type were checked when the response arrived, the bytes are the case's to check).
   */
  chunks(): AsyncGenerator<Buffer>;
  /** Hangs up (destroys the connection) without reading further. */
  abort(): void;
}

export interface GatewayClient {
  send(options: SendOptions): Promise<GatewayResponse>;
}

function toList(headers: HeaderList | undefined): Array<[string, string]> {
  if (!headers) return [];
  return Array.isArray(headers) ? headers : Object.entries(headers);
}

export function createGatewayClient(opts: {
  baseUrl: string;
  /** The default bearer, or a function read when a request needs it (it may throw: no bearer available). */
  bearer: string | (() => string);
  checker: SpecChecker;
  signal: AbortSignal;
}): GatewayClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  return {
    send(options) {
      const url = new URL(base + options.path);
      const method = (options.method ?? (options.body === undefined ? 'GET' : 'POST')).toUpperCase();
      const bodyBuf =
        options.body === undefined
          ? undefined
          : Buffer.isBuffer(options.body)
            ? options.body
            : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
      const given = toList(options.headers);
      const has = (name: string) => given.some(([n]) => n.toLowerCase() === name);
      // Raw header lists bypass node's automatic Host header: add it first, as clients do.
      const list: Array<[string, string]> = has('host') ? [] : [['host', url.host]];
      const bearer =
        options.bearer !== undefined
          ? options.bearer
          : typeof opts.bearer === 'function'
            ? opts.bearer()
            : opts.bearer;
      if (bearer !== null && !has('authorization')) list.push(['authorization', `Bearer ${bearer}`]);
      if (!has('anthropic-version') && url.pathname.startsWith('/v1/'))
        list.push(['anthropic-version', '2023-06-01']);
      if (bodyBuf && !has('content-type')) list.push(['content-type', 'application/json']);
      list.push(...given);
      if (bodyBuf && !options.chunked && !has('content-length'))
        list.push(['content-length', String(bodyBuf.length)]);
      if (bodyBuf && options.chunked && !has('transfer-encoding'))
        list.push(['transfer-encoding', 'chunked']);
      const rawHeaders = list.flat();

      return new Promise<GatewayResponse>((resolve, reject) => {
        const signals = [opts.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
        const signal = AbortSignal.any(signals);
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(url, {
          method,
          headers: rawHeaders as unknown as OutgoingHttpHeaders,
          agent: false,
        });
        let responded = false;
        const onAbort = () =>
          req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('error', (err) => {
          if (responded) return;
          // The gateway may answer (e.g. 413) and close while the body is still being written: give the
          // response a moment to be parsed before reporting the write error.
          setTimeout(() => {
            if (responded) return;
            signal.removeEventListener('abort', onAbort);
            reject(
              new ConformanceError(
                'ERR_CASE_FAILED',
                `${method} ${options.path}: request failed: ${err.message}`,
                {
                  cause: err,
                },
              ),
            );
          }, 250);
        });
        req.on('response', (res) => {
          responded = true;
          res.on('close', () => signal.removeEventListener('abort', onAbort));
          try {
            resolve(
              wrapResponse(
                res,
                req.destroy.bind(req),
                options.operationId,
                opts.checker,
                method,
                options.path,
              ),
            );
          } catch (err) {
            res.destroy();
            reject(err);
          }
        });
        if (bodyBuf && options.chunked) {
          const n = Math.max(1, options.chunked);
          const size = Math.ceil(bodyBuf.length / n);
          for (let i = 0; i < bodyBuf.length; i += size) req.write(bodyBuf.subarray(i, i + size));
          req.end();
        } else if (bodyBuf && bodyBuf.length > LARGE_BODY) {
          void writeLargeBody(req, bodyBuf, () => responded);
        } else if (bodyBuf) {
          req.end(bodyBuf);
        } else {
          req.end();
        }
      });
    },
  };
}

/** Bodies above this are written piece by piece, so that an early answer (413) is read before more is sent. */
const LARGE_BODY = 256 * 1024;
const PIECE = 64 * 1024;

/**
 * Writes a large body the way a careful client does: one piece, a short pause for an early answer (a gateway may
 * refuse from `content-length` alone), then the rest, stopping as soon as an answer has arrived. Reading the
 * answer before the gateway closes the connection keeps a TCP reset from destroying it.
 */
async function writeLargeBody(req: ClientRequest, body: Buffer, answered: () => boolean): Promise<void> {
  const write = (piece: Buffer) =>
    new Promise<void>((resolve) => {
      if (req.write(piece)) resolve();
      else {
        const done = () => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.on('drain', done);
        req.on('close', done);
      }
    });
  await write(body.subarray(0, PIECE));
  for (let waited = 0; waited < 200 && !answered() && !req.destroyed; waited += 20) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = PIECE; i < body.length; i += PIECE) {
    if (answered() || req.destroyed) return;
    await write(body.subarray(i, i + PIECE));
  }
  if (!answered() && !req.destroyed) req.end();
}

function wrapResponse(
  res: IncomingMessage,
  destroy: () => void,
  operationId: string,
  checker: SpecChecker,
  method: string,
  path: string,
): GatewayResponse {
  const headers: Record<string, string> = {};
  const rawHeaders: Array<[string, string]> = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i] as string;
    const value = res.rawHeaders[i + 1] as string;
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  const status = res.statusCode ?? 0;
  const contentType = headers['content-type'] ?? null;
  const where = `${method} ${path} → ${status}`;
  // Status and content-type are checked at once, the body when it is read.
  checker.response(operationId, { status, contentType, body: undefined }, where);
  let consumed = false;
  const claim = () => {
    if (consumed) throw new ConformanceError('ERR_USAGE', 'response body already read');
    consumed = true;
  };
  const readAll = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch (err) {
      throw new ConformanceError('ERR_CASE_FAILED', `${where}: the response body broke off: ${String(err)}`);
    }
    const buf = Buffer.concat(chunks);
    const declared = headers['content-length'];
    if (declared !== undefined && Number(declared) !== buf.length) {
      throw new ConformanceError(
        'ERR_CASE_FAILED',
        `${where}: content-length ${declared} but ${buf.length} bytes received`,
      );
    }
    return buf.toString('utf8');
  };
  const isJson = contentType !== null && /^application\/([\w.+-]*\+)?json\b/i.test(contentType);
  return {
    status,
    headers,
    rawHeaders,
    contentType,
    async text() {
      claim();
      const text = await readAll();
      if (isJson) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new ConformanceError(
            'ERR_SPEC_VIOLATION',
            `${where}: content-type ${contentType} but the body is not JSON`,
            {
              details: { body: text.slice(0, 2000) },
            },
          );
        }
        checker.response(operationId, { status, contentType, body }, where);
      } else if (!/^text\/event-stream/i.test(contentType ?? '')) {
        checker.response(operationId, { status, contentType, body: text }, where);
      }
      return text;
    },
    async json<T>() {
      const text = await this.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ConformanceError(
          'ERR_CASE_FAILED',
          `${where}: expected a JSON body, got ${JSON.stringify(text.slice(0, 200))}`,
        );
      }
    },
    async *events() {
      claim();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      let index = 0;
      try {
        for await (const chunk of res) {
          for (const ev of parser.push(decoder.decode(chunk as Buffer, { stream: true }))) {
            const json = parseEventData(ev.data);
            checker.event(ev.event, json, `${where}: event #${index++} (${ev.event})`);
            yield { ...ev, json };
          }
        }
      } catch (err) {
        if (err instanceof ConformanceError) throw err;
        throw new ConformanceError('ERR_CASE_FAILED', `${where}: the event stream broke off: ${String(err)}`);
      }
      for (const ev of parser.end()) {
        const json = parseEventData(ev.data);
        checker.event(ev.event, json, `${where}: event #${index++} (${ev.event})`);
        yield { ...ev, json };
      }
    },
    async *chunks() {
      claim();
      try {
        for await (const chunk of res) yield chunk as Buffer;
      } catch (err) {
        throw new ConformanceError(
          'ERR_CASE_FAILED',
          `${where}: the response body broke off: ${String(err)}`,
        );
      }
    },
    abort() {
      res.destroy();
      destroy();
    },
  };
}
