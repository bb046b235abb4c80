/**
 * Relays an upstream response to the client.
 *
 * - 2xx `text/event-stream` from the router (`framed`, the path every request takes): the router has framed and read
 *   every event already and ends a broken stream with an `error` event itself, so its batches are written as they
 *   come — Nagle off, back-pressure (the upstream is not read while the client's socket is full), the headers in the
 *   same packet as the first content.
 * - Any other 2xx `text/event-stream`: headers flushed at once, every event written as soon as it is complete
 *   (./sse.ts), with back-pressure. A stream that breaks, stalls past the idle timeout or ends without
 *   `message_stop` is closed with an SSE `error` event (`api_error`), never a clean end (INFERENCE-2, INFERENCE-3).
 * - 2xx JSON: relayed unchanged with a recomputed content-length (INFERENCE-1, INFERENCE-8).
 * - Upstream errors: 401/403 (the gateway's own credential is wrong) → 502 `api_error`; any other status is kept
 *   with the upstream's `error.type` but a generic message, because upstream messages can carry account ids. The
 *   original is logged for the operator (ERRORS-6).
 */
import type { ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createZstdDecompress } from 'node:zlib';
import { ANTHROPIC_ERROR_TYPES, type AnthropicErrorType, GatewayError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import type { UpstreamResponse } from './anthropic.ts';
import { errorCode } from './anthropic.ts';
import { clientResponseHeaders } from './headers.ts';
import { SseSplitter, sseErrorEvent } from './sse.ts';

/** Largest non-streaming upstream answer the gateway holds (it sets content-length, so it must hold it). */
const MAX_JSON_BODY = 64 * 1024 * 1024;
/** Largest upstream error body read for logging. */
const MAX_ERROR_BODY = 1024 * 1024;
/** Upstream error headers worth keeping: they drive the client's retry logic. */
const RETRY_HEADERS = /^(retry-after|retry-after-ms|x-should-retry|anthropic-ratelimit-.*)$/;

const GENERIC_MESSAGES: Record<string, string> = {
  invalid_request_error: 'The upstream rejected the request as invalid.',
  authentication_error: 'The upstream rejected the request.',
  permission_error: 'The upstream refused the request.',
  not_found_error: 'The upstream could not find the requested resource.',
  request_too_large: 'The request is too large for the upstream.',
  rate_limit_error: 'The upstream rate limit was reached; retry later.',
  billing_error: 'The upstream refused the request for billing reasons.',
  not_supported: 'The upstream does not support this request.',
  timeout_error: 'The upstream timed out.',
  overloaded_error: 'The upstream is overloaded; retry later.',
  api_error: 'The upstream failed to process the request.',
};

export async function relayResponse(ctx: RequestContext, upstream: UpstreamResponse): Promise<void> {
  const body = decoded(upstream);
  if (upstream.status >= 400) {
    throw await upstreamError(ctx, upstream, body);
  }
  if (upstream.status < 200 || upstream.status >= 300) {
    body.destroy();
    ctx.logger.error('upstream answered an unexpected status', { upstream_status: upstream.status });
    throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream answered with an unexpected status.');
  }
  const contentType = String(upstream.headers['content-type'] ?? '');
  if (/^text\/event-stream\b/i.test(contentType)) {
    await relaySse(ctx, upstream, body);
  } else {
    await relayJson(ctx, upstream, body);
  }
}

async function relayJson(ctx: RequestContext, upstream: UpstreamResponse, body: Readable): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readAll(body, MAX_JSON_BODY);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.logger.warn('upstream body failed', { err, code: errorCode(err) });
    throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream answer was cut short.', { cause: err });
  }
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    const usage = (parsed.usage ?? parsed) as Record<string, unknown>;
    if (typeof usage.input_tokens === 'number') ctx.facts.inputTokens = usage.input_tokens;
    if (typeof usage.output_tokens === 'number') ctx.facts.outputTokens = usage.output_tokens;
  } catch {
    // Relayed unchanged even when we cannot read it; it is the upstream's answer.
  }
  const res = ctx.res;
  res.writeHead(upstream.status, {
    ...clientResponseHeaders(upstream.headers),
    'content-length': bytes.length,
  });
  res.end(bytes);
}

async function relaySse(ctx: RequestContext, upstream: UpstreamResponse, body: Readable): Promise<void> {
  const { res } = ctx;
  const headers = clientResponseHeaders(upstream.headers);
  headers['cache-control'] ??= 'no-cache';
  // Tells nginx-style reverse proxies in front of the gateway not to buffer the stream either.
  headers['x-accel-buffering'] = 'no';
  res.socket?.setNoDelay(true);
  res.writeHead(upstream.status, headers);
  if (upstream.framed === true) return relayFramed(ctx, body, upstream.ending);
  res.flushHeaders();

  const splitter = new SseSplitter();
  let failure: string | null = null;
  try {
    for await (const chunk of body) {
      const ready = splitter.push(chunk as Buffer);
      if (ready.length > 0 && !res.write(ready)) {
        if (!(await drained(res))) break;
      }
    }
    if (!splitter.facts.stopped && splitter.facts.upstreamErrorType === undefined && !ctx.signal.aborted) {
      failure = 'The upstream stream ended before message_stop.';
      ctx.logger.warn('upstream stream ended early', {
        events: splitter.facts.events,
        incomplete: splitter.incomplete,
      });
    }
  } catch (err) {
    if (!ctx.signal.aborted) {
      const stalled = errorCode(err) === 'UND_ERR_BODY_TIMEOUT';
      failure = stalled ? 'The upstream stream stalled.' : 'The upstream stream was interrupted.';
      ctx.logger.warn('upstream stream failed', { err, code: errorCode(err), events: splitter.facts.events });
    }
  } finally {
    const f = splitter.facts;
    if (f.inputTokens !== undefined) ctx.facts.inputTokens = f.inputTokens;
    if (f.outputTokens !== undefined) ctx.facts.outputTokens = f.outputTokens;
    if (f.upstreamErrorType) ctx.facts.errorType = f.upstreamErrorType;
  }
  if (res.destroyed) {
    body.destroy();
    return;
  }
  if (ctx.signal.aborted) {
    // Cut by a forced shutdown: the client is still listening, so end with an error event it can act on.
    body.destroy();
    failure = 'The gateway is shutting down; retry the request.';
  }
  if (failure) {
    ctx.facts.errorType = 'api_error';
    res.write(sseErrorEvent('api_error', failure, ctx.requestId));
  }
  res.end();
}

/**
 * A stream from the router: whole events, already read (usage reached `ctx.facts` through the router's facts) and
 * ended with an `error` event by the router when the upstream broke. The router releases it only once content is
 * there, so the headers go out with the first write rather than in a packet of their own.
 */
async function relayFramed(ctx: RequestContext, body: Readable, ending?: () => boolean): Promise<void> {
  const { res } = ctx;
  let gone = false;
  try {
    // Not destroyed when the loop is left at the last chunk: the router ends the body right after it.
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      if (ending?.() === true && body.readableLength === 0) {
        // The last chunk and the chunked response's terminator in one write, not two.
        res.end(chunk as Buffer);
        return;
      }
      if (!res.write(chunk as Buffer) && !(await drained(res))) {
        gone = true;
        break;
      }
    }
  } catch (err) {
    // The router's stream does not fail; if it ever does, the client must not see a clean end.
    if (!ctx.signal.aborted && !res.destroyed) {
      ctx.logger.error('routed stream failed', { err });
      ctx.facts.errorType = 'api_error';
      res.write(sseErrorEvent('api_error', 'The upstream stream was interrupted.', ctx.requestId));
    }
  }
  if (gone || res.destroyed) {
    body.destroy();
    return;
  }
  if (ctx.signal.aborted) {
    // Cut by a forced shutdown: the client is still listening, so end with an error event it can act on.
    body.destroy();
    ctx.facts.errorType = 'api_error';
    res.write(sseErrorEvent('api_error', 'The gateway is shutting down; retry the request.', ctx.requestId));
  }
  res.end();
}

async function upstreamError(
  ctx: RequestContext,
  upstream: UpstreamResponse,
  body: Readable,
): Promise<GatewayError> {
  let text = '';
  try {
    text = (await readAll(body, MAX_ERROR_BODY)).toString('utf8');
  } catch {
    body.destroy();
  }
  let upstreamType: string | undefined;
  let upstreamMessage: string | undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } };
    if (typeof parsed.error?.type === 'string') upstreamType = parsed.error.type;
    if (typeof parsed.error?.message === 'string') upstreamMessage = parsed.error.message;
  } catch {
    // not an envelope
  }
  const upstreamRequestId = upstream.headers['request-id'];
  ctx.logger.warn('upstream answered an error', {
    upstream_status: upstream.status,
    upstream_error_type: upstreamType,
    upstream_message: upstreamMessage ?? text.slice(0, 2000),
    upstream_request_id: upstreamRequestId,
  });

  if (upstream.status === 401 || upstream.status === 403) {
    return new GatewayError('ERR_UPSTREAM_AUTH', 'The gateway could not authenticate with its upstream.');
  }
  const type: AnthropicErrorType =
    upstreamType && ANTHROPIC_ERROR_TYPES.has(upstreamType)
      ? (upstreamType as AnthropicErrorType)
      : upstream.status >= 500
        ? 'api_error'
        : 'invalid_request_error';
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (typeof value === 'string' && RETRY_HEADERS.test(name.toLowerCase()))
      headers[name.toLowerCase()] = value;
  }
  if (typeof upstreamRequestId === 'string') headers['upstream-request-id'] = upstreamRequestId;
  return new GatewayError('ERR_UPSTREAM_STATUS', GENERIC_MESSAGES[type] ?? 'The upstream failed.', {
    status: upstream.status,
    type,
    headers,
  });
}

/** The upstream body with any content-encoding removed (we ask for identity; this is the fallback). */
function decoded(upstream: UpstreamResponse): Readable {
  const encoding = String(upstream.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'br'
        ? createBrotliDecompress()
        : encoding === 'deflate'
          ? createInflate()
          : encoding === 'zstd'
            ? createZstdDecompress()
            : null;
  if (!decoder) return upstream.body;
  return pipeline(upstream.body, decoder, () => {});
}

async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new Error(`upstream body larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Resolves true when the response can take more data, false when the client is gone. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
