/**
 * Upstream kind `anthropic`: the Anthropic Messages API (or anything that speaks it), over a dedicated undici pool
 * with connect, first-byte (headers) and idle (body) timeouts.
 *
 * The request goes to `baseUrl` + the same path + the same query string (`?beta=true` is kept, INFERENCE-4) with the
 * validated raw body bytes (never re-serialised, so unknown fields and number formatting survive, INFERENCE-7).
 * Failures before the response headers become GatewayErrors the client can act on (ERRORS-6): connection failure
 * → 502 `api_error`, first-byte timeout → 504 `api_error`; never 401.
 */
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { AnthropicUpstreamConfig } from '../config/load.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { SseEvent } from '../routing/events.ts';
import { upstreamRequestHeaders } from './headers.ts';

export interface UpstreamRequest {
  /** Path of the gateway operation, e.g. `/v1/messages`. */
  path: string;
  /** The client's query string including `?`, verbatim, or ''. */
  search: string;
  /** The client's `rawHeaders` (filtered here). */
  rawHeaders: readonly string[];
  body: Buffer;
  signal: AbortSignal;
  /**
   * True for a non-streaming message: the upstream sends its headers only once the whole answer is ready, so the
   * first-byte timeout is raised to at least `NON_STREAMING_MIN_FIRST_BYTE_MS`.
   */
  awaitsWholeAnswer: boolean;
  /**
   * The target's model id at this provider (e.g. `anthropic.claude-sonnet-4-5-20250929-v1:0` on Bedrock); absent:
   * the body's `model` as it is. Providers that take the model in the URL (Bedrock, Vertex) put it there.
   */
  upstreamModel?: string;
}

/** The Anthropic SDK's own default timeout for a non-streaming request (10 minutes). */
export const NON_STREAMING_MIN_FIRST_BYTE_MS = 600_000;

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /**
   * Set by the router on a stream it relays: the body is whole SSE events whose usage and errors the router has
   * already read, and which it ends with an `error` event itself if the upstream breaks. relay.ts then writes the
   * bytes as they come instead of framing and reading every event a second time.
   */
  framed?: boolean;
  /**
   * Set by the router with `framed`: true once it has handed over the stream's last chunk (the body ends right
   * after it), so that relay.ts writes that chunk and the end of the response in one packet.
   */
  ending?: () => boolean;
  /**
   * Set by an upstream kind whose stream is not SSE (Bedrock's event stream): `body` is the upstream's own bytes,
   * and the router turns each chunk into events with this instead of reading SSE.
   */
  decoder?: StreamDecoder;
}

/** An event as the router reads it (routing/events.ts). */
export type StreamEvent = SseEvent;

/** Turns an upstream body that is not SSE into Anthropic SSE events, chunk by chunk. */
export interface StreamDecoder {
  /**
   * The events `chunk` completed. `end`: the stream is over (`message_stop` or an error event was the last; nothing
   * after it is read); `error`: it broke after `events` (the framing can no longer be trusted).
   */
  push(chunk: Buffer): { events: StreamEvent[]; end: boolean; error?: unknown };
  /** The body has ended: says so when it ended inside a frame. */
  finish(): void;
}

/** The provider protocols the gateway speaks (every kind answers in the Anthropic shape). */
export type UpstreamKind = 'anthropic' | 'bedrock' | 'vertex';

export interface Upstream {
  readonly name: string;
  readonly kind: UpstreamKind;
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** undici error codes meaning "the upstream did not answer in time". */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT']);
/** … and "the upstream could not be reached". */
const UNREACHABLE_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
]);

export function createAnthropicUpstream(config: AnthropicUpstreamConfig, logger: Logger): Upstream {
  const base = new URL(config.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connect: { timeout: config.timeouts.connectMs },
    headersTimeout: config.timeouts.firstByteMs,
    bodyTimeout: config.timeouts.idleMs,
    keepAliveTimeout: 30_000,
  });
  const log = logger.child({ upstream: config.name });

  return {
    name: config.name,
    kind: 'anthropic',
    async send(request) {
      try {
        const response = await pool.request({
          method: 'POST',
          path: `${prefix}${request.path}${request.search}`,
          headers: upstreamRequestHeaders(request.rawHeaders, config.apiKey),
          body: request.body,
          signal: request.signal,
          headersTimeout: request.awaitsWholeAnswer
            ? Math.max(config.timeouts.firstByteMs, NON_STREAMING_MIN_FIRST_BYTE_MS)
            : config.timeouts.firstByteMs,
        });
        return { status: response.statusCode, headers: response.headers, body: response.body };
      } catch (err) {
        if (request.signal.aborted) throw err;
        throw mapTransportError(err, log);
      }
    },
    close: () => pool.close(),
  };
}

/** Maps an undici/socket error raised before the response headers to the client-facing error. */
export function mapTransportError(err: unknown, log: Logger): GatewayError {
  const code = errorCode(err);
  if (TIMEOUT_CODES.has(code)) {
    log.warn('upstream did not answer in time', { err });
    return new GatewayError('ERR_UPSTREAM_TIMEOUT', 'The upstream did not answer in time.', { cause: err });
  }
  if (!UNREACHABLE_CODES.has(code)) log.error('upstream request failed', { err });
  else log.warn('upstream unreachable', { err });
  return new GatewayError('ERR_UPSTREAM_UNREACHABLE', 'The upstream could not be reached.', { cause: err });
}

export function errorCode(err: unknown): string {
  let e: unknown = err;
  // Socket errors surface wrapped (`TypeError: fetch failed`-style or AggregateError for dual-stack connects).
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const inner =
      (e as { cause?: unknown; errors?: unknown[] }).cause ?? (e as { errors?: unknown[] }).errors?.[0];
    e = inner;
  }
  return 'UNKNOWN';
}
