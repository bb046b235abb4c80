/**
 * Building blocks for the Bedrock-shaped pass-through surface (feature `bedrock-passthrough`; issue 4, not yet
 * wired): the inverse of the `bedrock` upstream kind. A client configured for Bedrock (`CLAUDE_CODE_USE_BEDROCK`,
 * `ANTHROPIC_BEDROCK_BASE_URL`) posts Bedrock invoke bodies to the gateway; the gateway serves them through the
 * ordinary Messages path and answers in Bedrock's shape.
 *
 * - {@link fromBedrockInvokeBody}: a Bedrock invoke body → the Anthropic body (canonical `model`, `stream`) and the
 *   betas to send as `anthropic-beta` (PASSTHROUGH-1).
 * - {@link bedrockErrorFor}: an Anthropic error status/type → Bedrock's status, exception name and `{"message"}`
 *   body with `x-amzn-ErrorType` (PASSTHROUGH-6).
 * - {@link sseToEventStream}: any upstream kind's Anthropic SSE → CRC-valid AWS event-stream `chunk` frames, one per
 *   event, written as each event completes; an SSE `error` event, a broken stream or one that ends before
 *   `message_stop` ends with an exception frame, never a clean end (PASSTHROUGH-5).
 */
import { Readable } from 'node:stream';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { AnthropicErrorType } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import { type SseFacts, SseSplitter } from '../sse.ts';
import { GENERIC_MESSAGES } from './errors.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: 'string' as const, value });

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

export type BedrockBodyResult =
  | { ok: true; body: Record<string, unknown>; betas: string[] }
  | { ok: false; message: string };

/**
 * Reads a Bedrock invoke body: a JSON object with `anthropic_version`, optional `anthropic_beta` (strings), and the
 * Messages members without `model` and `stream` (Bedrock refuses both). Returns the Anthropic body with `model`
 * (the gateway's canonical id for the path's model) and, for the streaming operation, `stream: true`.
 */
export function fromBedrockInvokeBody(raw: Buffer, model: string, stream: boolean): BedrockBodyResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, message: 'Malformed input request, please reformat your input and try again.' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, message: 'Malformed input request, please reformat your input and try again.' };
  }
  const body = parsed as Record<string, unknown>;
  for (const key of ['model', 'stream']) {
    if (key in body) {
      return {
        ok: false,
        message: `Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`,
      };
    }
  }
  if (typeof body.anthropic_version !== 'string' || body.anthropic_version === '') {
    return {
      ok: false,
      message:
        'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.',
    };
  }
  const { anthropic_version: _version, anthropic_beta, ...rest } = body;
  if (
    anthropic_beta !== undefined &&
    (!Array.isArray(anthropic_beta) || anthropic_beta.some((b) => typeof b !== 'string'))
  ) {
    return { ok: false, message: 'Malformed input request: #/anthropic_beta: expected an array of strings.' };
  }
  return {
    ok: true,
    body: { model, ...rest, ...(stream ? { stream: true } : {}) },
    betas: (anthropic_beta as string[] | undefined) ?? [],
  };
}

const ERROR_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

/** Bedrock's status and exception name for an Anthropic error (PASSTHROUGH-6). */
export function bedrockErrorFor(
  status: number,
  type: AnthropicErrorType | string,
): { status: number; name: string } {
  switch (type) {
    case 'authentication_error':
      return { status: 401, name: 'UnrecognizedClientException' };
    case 'permission_error':
      return { status: 403, name: 'AccessDeniedException' };
    case 'not_found_error':
      return { status: 404, name: 'ResourceNotFoundException' };
    case 'rate_limit_error':
    case 'billing_error':
      return { status: 429, name: 'ThrottlingException' };
    case 'overloaded_error':
      return { status: 503, name: 'ServiceUnavailableException' };
    case 'timeout_error':
      return { status: 408, name: 'ModelTimeoutException' };
    case 'invalid_request_error':
    case 'request_too_large':
    case 'not_supported':
      return { status: 400, name: 'ValidationException' };
    default:
      if (status === 401) return { status: 401, name: 'UnrecognizedClientException' };
      if (status === 429) return { status: 429, name: 'ThrottlingException' };
      if (status === 503 || status === 529) return { status: 503, name: 'ServiceUnavailableException' };
      if (status >= 400 && status < 500) return { status: 400, name: 'ValidationException' };
      return { status: 500, name: 'InternalServerException' };
  }
}

/** The whole Bedrock error answer: status, headers (`x-amzn-ErrorType`, kept `retry-after`) and `{"message"}`. */
export function renderBedrockError(
  status: number,
  type: AnthropicErrorType | string,
  message: string,
  headers: Record<string, string> = {},
): { status: number; headers: Record<string, string>; body: string } {
  const mapped = bedrockErrorFor(status, type);
  const body = JSON.stringify({ message });
  return {
    status: mapped.status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': `${mapped.name}${ERROR_SUFFIX}`,
      ...(headers['retry-after'] ? { 'retry-after': headers['retry-after'] } : {}),
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  };
}

/** `:exception-type` for an SSE `error` event's type. */
function exceptionTypeFor(type: string | undefined): string {
  switch (type) {
    case 'rate_limit_error':
      return 'throttlingException';
    case 'overloaded_error':
      return 'serviceUnavailableException';
    case 'invalid_request_error':
      return 'validationException';
    case 'timeout_error':
      return 'modelTimeoutException';
    default:
      return 'internalServerException';
  }
}

/** One `chunk` frame for an Anthropic event's JSON text. */
export function encodeChunk(json: string): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': str('chunk'),
      ':content-type': str('application/json'),
      ':message-type': str('event'),
    },
    body: fromUtf8(JSON.stringify({ bytes: Buffer.from(json, 'utf8').toString('base64') })),
  });
}

/** One exception frame (`:message-type: exception`) with `{"message"}`. */
export function encodeException(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': str(exceptionType),
      ':content-type': str('application/json'),
      ':message-type': str('exception'),
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

function blocks(text: string): Array<{ event: string; data: string }> {
  const out: Array<{ event: string; data: string }> = [];
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    if (block.trim() === '') continue;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    out.push({ event, data: data.join('\n') });
  }
  return out;
}

/**
 * Transcodes Anthropic SSE (any upstream kind's 2xx stream) into a Bedrock event stream. `facts` (the relay's
 * SSE facts: usage, `stopped`, upstream error type) fill as the stream goes, for the request record.
 */
export function sseToEventStream(sse: Readable, log: Logger): { body: Readable; facts: SseFacts } {
  const splitter = new SseSplitter();
  const decoder = new TextDecoder();

  async function* frames(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of sse) {
        const ready = splitter.push(chunk as Buffer);
        if (ready.length === 0) continue;
        for (const { event, data } of blocks(decoder.decode(ready, { stream: true }))) {
          if (event === 'ping') continue;
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(data) as Record<string, unknown>;
            if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
          } catch (err) {
            log.warn('pass-through dropped a malformed SSE event', { err, event });
            continue;
          }
          if (event === 'error') {
            const type = (parsed.error as { type?: string } | undefined)?.type;
            const message =
              GENERIC_MESSAGES[(type ?? 'api_error') as AnthropicErrorType] ?? GENERIC_MESSAGES.api_error;
            yield Buffer.from(encodeException(exceptionTypeFor(type), message));
            return;
          }
          yield Buffer.from(encodeChunk(JSON.stringify(parsed)));
          if (event === 'message_stop') return;
        }
      }
      log.warn('pass-through stream ended before message_stop', { events: splitter.facts.events });
      splitter.facts.upstreamErrorType = 'api_error';
      yield Buffer.from(encodeException('internalServerException', 'The upstream stream ended early.'));
    } catch (err) {
      log.warn('pass-through upstream stream failed', { err, events: splitter.facts.events });
      splitter.facts.upstreamErrorType = 'api_error';
      yield Buffer.from(encodeException('internalServerException', 'The upstream stream was interrupted.'));
    } finally {
      sse.destroy();
    }
  }

  return { body: Readable.from(frames(), { objectMode: false }), facts: splitter.facts };
}
