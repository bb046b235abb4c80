/**
 * AWS event stream → Anthropic SSE events, frame by frame.
 *
 * `invoke-with-response-stream` answers `application/vnd.amazon.eventstream`: binary frames (prelude with total and
 * headers length + CRC, headers, payload, message CRC; protocol-facts §2). Each `chunk` event's payload is
 * `{"bytes":"<base64 Anthropic stream event JSON>","p":"<padding>"}`. The router feeds this module the upstream's body
 * chunk by chunk ({@link createEventStreamDecoder}); it cuts the bytes into frames, decodes each with
 * `@smithy/eventstream-codec` (which verifies both CRCs) and returns the Anthropic events the chunk completed, each
 * as `event: <type>\ndata: <json>\n\n` (Bedrock's own JSON text when the event is passed on unchanged) with its parsed
 * data. Nothing is held beyond the one frame being assembled. The router reads these events as it reads an SSE
 * upstream's (hold-back, usage, errors, `message_stop`), so a Bedrock stream takes no stage of its own between the
 * upstream's body and the router, and is not written as SSE text and then read again.
 *
 * - A frame that fails its CRC or has an impossible length ends the decoding with `ERR_UPSTREAM_PROTOCOL` (the
 *   events of the chunk before it still count): the framing can no longer be trusted, so nothing after it is
 *   forwarded (the router fails over before content, or ends the client's stream with an SSE `error`).
 * - A well-framed chunk whose payload is not an Anthropic event (bad base64/JSON, no `type`) is dropped and logged.
 * - An exception frame (`:message-type: exception`, e.g. `throttlingException`) or an unmodeled error frame
 *   (`:message-type: error`) becomes an SSE `error` event with the mapped type and a generic message, and ends the
 *   stream, as `message_stop` does. The upstream's own message is logged only. The router gives the upstream its
 *   grace to end its body on its own (the connection then goes back to the pool) and cuts it after that.
 *
 * Usage: `message_start.message.usage` and the cumulative `message_delta.usage` are forwarded (and `message_delta`
 * gains the input/cache counts of `message_start` when it lacks them, as the Anthropic API's cumulative usage
 * does), so the router records the same input/output tokens as for the anthropic kind. The
 * `amazon-bedrock-invocationMetrics` of the final chunk (Bedrock's billing counts) is removed from the
 * client-visible `message_stop` and recorded in the {@link BedrockUsage} the caller passed in.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { AnthropicErrorType } from '../../errors.ts';
import { GatewayError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { StreamDecoder, StreamEvent } from '../anthropic.ts';
import { GENERIC_MESSAGES, mapStreamException } from './errors.ts';

/** Token counts of one Bedrock call, filled as the answer arrives (final once the body has ended). */
export interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  /** Where the final numbers came from. */
  source?: 'headers' | 'events' | 'invocation-metrics';
}

/** Frames longer than this are treated as corrupt (Bedrock chunks are a few KiB; the AWS limit is 16 MiB). */
const MAX_FRAME = 16 * 1024 * 1024;
/** prelude (8) + prelude CRC (4) + message CRC (4). */
const MIN_FRAME = 16;
const METRICS_KEY = 'amazon-bedrock-invocationMetrics';
const EMPTY = Buffer.alloc(0);

// Header names and values are read with the WHATWG TextDecoder straight from the frame's bytes: smithy's toUtf8
// wraps each one in a Buffer first, which made up a quarter of the decode time (six small strings per frame).
const headerText = new TextDecoder();
const codec = new EventStreamCodec(
  (input: Uint8Array | string) => (typeof input === 'string' ? input : headerText.decode(input)),
  fromUtf8,
);

function headerString(
  headers: Record<string, { type: string; value: unknown }>,
  name: string,
): string | undefined {
  const h = headers[name];
  return h && h.type === 'string' && typeof h.value === 'string' ? h.value : undefined;
}

/** `json` must hold no line break (one SSE data line). */
function sseEvent(type: string, json: string, data: Record<string, unknown>): StreamEvent {
  return { raw: Buffer.from(`event: ${type}\ndata: ${json}\n\n`), name: type, data, malformed: false };
}

function errorEvent(type: AnthropicErrorType): StreamEvent {
  const data = { type: 'error', error: { type, message: GENERIC_MESSAGES[type] } };
  return sseEvent('error', JSON.stringify(data), data);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Decodes a Bedrock event-stream body, chunk by chunk, into Anthropic SSE events (see the module doc). */
export function createEventStreamDecoder(log: Logger, usage: BedrockUsage): StreamDecoder {
  let startUsage: Record<string, unknown> | undefined;
  let events = 0;
  /** Bytes of the frame being assembled (a view into the last chunk, or a copy when it spans chunks). */
  let pending: Buffer = EMPTY;
  /** `message_stop` or an exception frame was decoded, or the framing broke: nothing more is read. */
  let over = false;

  /** The event for one decoded frame, or null to drop it; `end`: the stream is over. */
  const handleFrame = (frame: Uint8Array): { event: StreamEvent | null; end: boolean } => {
    let message: ReturnType<typeof codec.decode>;
    try {
      message = codec.decode(frame);
    } catch (err) {
      log.warn('bedrock event stream frame failed its checks', { err, events });
      throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream sent a corrupt event stream.', {
        cause: err,
      });
    }
    const headers = message.headers as Record<string, { type: string; value: unknown }>;
    const messageType = headerString(headers, ':message-type');
    if (messageType === 'exception') {
      const exceptionType = headerString(headers, ':exception-type');
      const type = mapStreamException(exceptionType);
      log.warn('bedrock stream exception', {
        exception_type: exceptionType,
        upstream_message: toUtf8(message.body).slice(0, 2000),
        events,
      });
      return { event: errorEvent(type), end: true };
    }
    if (messageType === 'error') {
      log.warn('bedrock stream error frame', {
        error_code: headerString(headers, ':error-code'),
        upstream_message: headerString(headers, ':error-message'),
        events,
      });
      return { event: errorEvent('api_error'), end: true };
    }
    if (messageType !== 'event' || headerString(headers, ':event-type') !== 'chunk') {
      log.debug('bedrock stream frame ignored', { message_type: messageType, events });
      return { event: null, end: false };
    }
    let event: Record<string, unknown>;
    let json: string;
    try {
      const payload = JSON.parse(toUtf8(message.body)) as { bytes?: unknown };
      if (typeof payload.bytes !== 'string') throw new Error('chunk without bytes');
      json = Buffer.from(payload.bytes, 'base64').toString('utf8');
      const parsed: unknown = JSON.parse(json);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      event = parsed as Record<string, unknown>;
      if (typeof event.type !== 'string' || event.type === '') throw new Error('event without type');
    } catch (err) {
      log.warn('bedrock stream chunk dropped: not an Anthropic event', { err, events });
      return { event: null, end: false };
    }
    events++;
    const type = event.type as string;
    if (type === 'message_start') {
      const u = (event.message as Record<string, unknown> | undefined)?.usage;
      if (u && typeof u === 'object') {
        startUsage = u as Record<string, unknown>;
        usage.inputTokens = num(startUsage.input_tokens) ?? usage.inputTokens;
        usage.outputTokens = num(startUsage.output_tokens) ?? usage.outputTokens;
        usage.cacheReadInputTokens = num(startUsage.cache_read_input_tokens) ?? usage.cacheReadInputTokens;
        usage.cacheWriteInputTokens =
          num(startUsage.cache_creation_input_tokens) ?? usage.cacheWriteInputTokens;
        usage.source = 'events';
      }
    } else if (type === 'message_delta') {
      const u = event.usage;
      if (u && typeof u === 'object') {
        const du = u as Record<string, unknown>;
        // Cumulative usage as the Anthropic API sends it: repeat message_start's input and cache counts.
        for (const key of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens']) {
          if (du[key] === undefined && num(startUsage?.[key]) !== undefined) du[key] = startUsage?.[key];
        }
        usage.inputTokens = num(du.input_tokens) ?? usage.inputTokens;
        usage.outputTokens = num(du.output_tokens) ?? usage.outputTokens;
        usage.source = 'events';
      }
      return { event: sseEvent(type, JSON.stringify(event), event), end: false };
    } else if (type === 'message_stop') {
      const metrics = event[METRICS_KEY];
      delete event[METRICS_KEY];
      if (metrics && typeof metrics === 'object') {
        const m = metrics as Record<string, unknown>;
        usage.inputTokens = num(m.inputTokenCount) ?? usage.inputTokens;
        usage.outputTokens = num(m.outputTokenCount) ?? usage.outputTokens;
        usage.cacheReadInputTokens = num(m.cacheReadInputTokenCount) ?? usage.cacheReadInputTokens;
        usage.cacheWriteInputTokens = num(m.cacheWriteInputTokenCount) ?? usage.cacheWriteInputTokens;
        usage.source = 'invocation-metrics';
      }
      return { event: sseEvent(type, JSON.stringify(event), event), end: true };
    }
    // An event passed on unchanged keeps Bedrock's own JSON text (already checked by JSON.parse above) when it fits
    // on one SSE data line.
    return {
      event: sseEvent(type, /[\r\n]/.test(json) ? JSON.stringify(event) : json, event),
      end: false,
    };
  };

  return {
    push(chunk) {
      if (over) return { events: [], end: true };
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: StreamEvent[] = [];
      try {
        while (pending.length >= 4) {
          const total = pending.readUInt32BE(0);
          if (total < MIN_FRAME || total > MAX_FRAME) {
            log.warn('bedrock event stream frame has an impossible length', { length: total, events });
            throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream sent a corrupt event stream.');
          }
          if (pending.length < total) break;
          // A view, no copy: the codec reads through a DataView at the view's own offset.
          const frame = pending.subarray(0, total);
          pending = pending.subarray(total);
          const r = handleFrame(frame);
          if (r.event !== null) out.push(r.event);
          if (r.end) {
            over = true;
            pending = EMPTY;
            return { events: out, end: true };
          }
        }
      } catch (error) {
        // The frames before a corrupt one are good and go out first.
        over = true;
        pending = EMPTY;
        return { events: out, end: true, error };
      }
      // A frame that spans chunks keeps its own copy, not a view pinning the whole upstream chunk.
      if (pending.length > 0 && pending.length < chunk.length) pending = Buffer.from(pending);
      return { events: out, end: false };
    },
    finish() {
      if (pending.length > 0 && !over)
        log.warn('bedrock event stream ended inside a frame', { bytes: pending.length });
    },
  };
}
