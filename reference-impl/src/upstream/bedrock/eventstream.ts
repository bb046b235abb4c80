/**
 * AWS event stream → Anthropic SSE, frame by frame.
 *
 * `invoke-with-response-stream` answers `application/vnd.amazon.eventstream`: binary frames (prelude with total and
 * headers length + CRC, headers, payload, message CRC; protocol-facts §2). Each `chunk` event's payload is
 * `{"bytes":"<base64 Anthropic stream event JSON>","p":"<padding>"}`. This module cuts the byte stream into frames,
 * decodes each with `@smithy/eventstream-codec` (which verifies both CRCs) and emits the Anthropic event as
 * `event: <type>\ndata: <json>\n\n` (Bedrock's own JSON text when the event is passed on unchanged) as soon as its frame
 * is complete: nothing is held beyond the one frame being assembled, and the upstream is read only as fast as the
 * client consumes (the output is a pull-based Readable). The frames one upstream read completed go out as one chunk,
 * except that the first content event goes out as soon as it is decoded (see {@link transcodeEventStream}).
 *
 * - A frame that fails its CRC or has an impossible length destroys the output with `ERR_UPSTREAM_PROTOCOL`: the
 *   framing can no longer be trusted, so nothing after it is forwarded (relay turns this into an SSE `error`).
 * - A well-framed chunk whose payload is not an Anthropic event (bad base64/JSON, no `type`) is dropped and logged.
 * - An exception frame (`:message-type: exception`, e.g. `throttlingException`) or an unmodeled error frame
 *   (`:message-type: error`) becomes an SSE `error` event with the mapped type and a generic message; then the
 *   stream ends. The upstream's own message is logged only.
 * - After `message_stop` the stream ends for the client even if the upstream keeps the connection open. The upstream
 *   gets {@link STOP_GRACE_MS} to end its body on its own (its connection then goes back to the pool, as the
 *   router does for SSE upstreams); one that stays open longer is cut.
 *
 * Usage: `message_start.message.usage` and the cumulative `message_delta.usage` are forwarded (and `message_delta`
 * gains the input/cache counts of `message_start` when it lacks them, as the Anthropic API's cumulative usage
 * does), so relay's SSE reader records the same input/output tokens as for the anthropic kind. The
 * `amazon-bedrock-invocationMetrics` of the final chunk (Bedrock's billing counts) is removed from the
 * client-visible `message_stop` and recorded in the {@link BedrockUsage} the caller passed in.
 */
import { finished, Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { AnthropicErrorType } from '../../errors.ts';
import { GatewayError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
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
/** After `message_stop`, how long Bedrock may take to end its body before it is cut (the router's default too). */
export const STOP_GRACE_MS = 1000;
/** The events the router holds back until content arrives (routing/route.ts OPENING_EVENTS): not content. */
const OPENING = new Set(['message_start', 'ping', 'content_block_start']);

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

function sseEvent(type: string, data: unknown): string {
  return sseText(type, JSON.stringify(data));
}

/** `json` must hold no line break (one SSE data line). */
function sseText(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

function sseError(type: AnthropicErrorType): string {
  return sseEvent('error', { type: 'error', error: { type, message: GENERIC_MESSAGES[type] } });
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * Transcodes a Bedrock event-stream body into Anthropic SSE bytes. Destroying the returned stream (client gone)
 * destroys `body`, which aborts the upstream request.
 */
export function transcodeEventStream(body: Readable, log: Logger, usage: BedrockUsage): Readable {
  let startUsage: Record<string, unknown> | undefined;
  let events = 0;
  /** The stream is over for the client (`message_stop`, or an exception frame): the body may end on its own. */
  let stopped = false;

  /**
   * Returns the SSE text for one decoded frame, or null to drop it; `end` says the stream is over, `content` that
   * the event is one the router does not hold back.
   */
  const handleFrame = (frame: Uint8Array): { out: string | null; end: boolean; content?: boolean } => {
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
      return { out: sseError(type), end: true };
    }
    if (messageType === 'error') {
      log.warn('bedrock stream error frame', {
        error_code: headerString(headers, ':error-code'),
        upstream_message: headerString(headers, ':error-message'),
        events,
      });
      return { out: sseError('api_error'), end: true };
    }
    if (messageType !== 'event' || headerString(headers, ':event-type') !== 'chunk') {
      log.debug('bedrock stream frame ignored', { message_type: messageType, events });
      return { out: null, end: false };
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
      return { out: null, end: false };
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
      return { out: sseEvent(type, event), end: true };
    }
    // An event passed on unchanged keeps Bedrock's own JSON text (already checked by JSON.parse above) when it fits
    // on one SSE data line; only the events whose usage was completed are serialised again.
    const unchanged = type !== 'message_delta' && !/[\r\n]/.test(json);
    return {
      out: unchanged ? sseText(type, json) : sseEvent(type, event),
      end: false,
      content: !OPENING.has(type),
    };
  };

  // One output chunk per upstream read (all the frames it completed), not one per frame: the router and the
  // client's socket then see no more writes than the upstream made. Pulled, not pushed: a push-based version
  // (flowing 'data' events) measured slower in bench:providers, because reads that pile up while the gateway is
  // busy are no longer taken as one. The SSE text of a read is one string, encoded once.
  async function* frames(): AsyncGenerator<Buffer> {
    // Not destroyed when the loop is left at message_stop: the finally block decides what happens to the body.
    const chunks = body.iterator({ destroyOnReturn: false });
    let pending: Buffer = Buffer.alloc(0);
    let contentOut = false;
    try {
      for await (const chunk of chunks) {
        pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
        let out = '';
        let corrupt: unknown;
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
            if (r.out !== null) out += r.out;
            if (r.end) {
              stopped = true;
              break;
            }
            if (r.content && !contentOut) {
              // The client waits for this one (the router releases the opening events with it): out with it now,
              // and let it reach the client's socket before the rest of this read is decoded. Often the whole
              // answer arrives in one read.
              contentOut = true;
              yield Buffer.from(out);
              out = '';
              await nextTurn();
            }
          }
        } catch (err) {
          corrupt = err;
        }
        // The frames before a corrupt one are good and go out first.
        if (out !== '') yield Buffer.from(out);
        if (corrupt !== undefined) throw corrupt;
        if (stopped) return;
      }
      if (pending.length > 0)
        log.warn('bedrock event stream ended inside a frame', { bytes: pending.length });
    } finally {
      if (stopped) letEnd(body, log);
      else body.destroy();
    }
  }

  const out = Readable.from(frames(), { objectMode: false });
  // Readable.from's _destroy ends the generator, which takes effect only at the generator's next step: that may be
  // an await on a silent upstream. A destroyed output (client gone) cuts the body at once instead, not when Bedrock
  // next sends something or the idle limit fires. (Readable.from sets _destroy on the instance too.)
  const endGenerator = out._destroy.bind(out);
  out._destroy = (err, callback) => {
    if (!stopped) body.destroy();
    endGenerator(err, callback);
  };
  return out;
}

/**
 * After the last event (`message_stop` or an exception frame): reads the rest of the body (Bedrock normally ends it
 * right away) and drops it, so that its connection goes back to the pool; cuts it if it is still open after
 * {@link STOP_GRACE_MS}.
 */
function letEnd(body: Readable, log: Logger): void {
  if (body.readableEnded || body.destroyed) return;
  const cut = setTimeout(() => {
    log.debug('bedrock kept its event stream open after message_stop: cut', { grace_ms: STOP_GRACE_MS });
    body.destroy();
  }, STOP_GRACE_MS);
  cut.unref();
  // finished() also listens for 'error' (a reset now is nobody's concern), so nothing goes unhandled.
  finished(body, () => clearTimeout(cut));
  body.resume();
}
