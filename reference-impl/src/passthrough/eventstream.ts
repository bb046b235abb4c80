/**
 * Anthropic SSE → AWS event stream, for Bedrock InvokeModelWithResponseStream served by the gateway
 * (PASSTHROUGH-5).
 *
 * The answer is relayed by the same code as `POST /v1/messages` (src/upstream/relay.ts), which writes complete SSE
 * events to the response as they arrive. {@link eventStreamResponse} stands in front of the client's response and
 * turns each event into one event-stream frame as it is written — nothing is held beyond a partial event — so the
 * relay's back-pressure, idle timeout and error handling apply unchanged:
 *
 * - a data event → `:message-type: event`, `:event-type: chunk`, `:content-type: application/json`, payload
 *   `{"bytes": "<base64 of the event JSON>"}` (what the Bedrock SDK and Claude Code decode);
 * - an SSE `error` event (an upstream error mid-stream, or the relay's own for a cut or stalled upstream) → an
 *   `:message-type: exception` frame (`throttlingException`, `serviceUnavailableException`,
 *   `validationException`, `internalServerException`) with `{"message"}`, which the Bedrock SDK raises as an
 *   error: a broken stream never ends cleanly.
 *
 * The final `message_stop` chunk gains Bedrock's `amazon-bedrock-invocationMetrics`. Frames are encoded with `@smithy/eventstream-codec` (lengths and both CRC-32s). A non-stream JSON answer passes
 * through untouched.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { responseAdapter } from './response-adapter.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

const str = (value: string) => ({ type: 'string' as const, value });

/** One `chunk` frame carrying one Anthropic stream event (its JSON text). */
export function chunkFrame(eventJson: string): Uint8Array {
  const headers: MessageHeaders = {
    ':event-type': str('chunk'),
    ':content-type': str('application/json'),
    ':message-type': str('event'),
  };
  const body = fromUtf8(JSON.stringify({ bytes: Buffer.from(eventJson, 'utf8').toString('base64') }));
  return codec.encode({ headers, body });
}

/** The exception frame for an Anthropic error type. */
export function exceptionFrame(errorType: string, message: string): Uint8Array {
  const exception =
    errorType === 'rate_limit_error'
      ? 'throttlingException'
      : errorType === 'overloaded_error'
        ? 'serviceUnavailableException'
        : errorType === 'invalid_request_error'
          ? 'validationException'
          : 'internalServerException';
  const headers: MessageHeaders = {
    ':exception-type': str(exception),
    ':content-type': str('application/json'),
    ':message-type': str('exception'),
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify({ message })) });
}

const METRICS_KEY = 'amazon-bedrock-invocationMetrics';

/**
 * Turns SSE text into event-stream frames, event by event; a partial event waits for its end. Like Bedrock, the
 * final `message_stop` chunk carries `amazon-bedrock-invocationMetrics` (input/output token counts from the
 * stream's usage, latencies in ms since `startedAt`), which Bedrock clients read for accounting.
 */
export class SseToEventStream {
  private pending = '';
  private inputTokens = 0;
  private outputTokens = 0;
  private firstByteAt: number | undefined;
  private readonly startedAt: number;

  constructor(startedAt: number = Date.now()) {
    this.startedAt = startedAt;
  }

  push(chunk: Buffer | string): Buffer {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const frames: Uint8Array[] = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.pending);
      if (!m) break;
      const block = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      const frame = this.frameFor(block);
      if (frame) frames.push(frame);
    }
    return Buffer.concat(frames);
  }

  private frameFor(block: string): Uint8Array | null {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length === 0) return null;
    const json = data.join('\n');
    if (event === 'error') {
      let type = 'api_error';
      let message = 'The upstream stream failed.';
      try {
        const parsed = JSON.parse(json) as { error?: { type?: unknown; message?: unknown } };
        if (typeof parsed.error?.type === 'string') type = parsed.error.type;
        if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      } catch {
        // keep the defaults
      }
      return exceptionFrame(type, message);
    }
    this.firstByteAt ??= Date.now();
    return chunkFrame(
      event === 'message_stop' || event === 'message_start' || event === 'message_delta'
        ? this.note(json)
        : json,
    );
  }

  /** Notes the usage of `message_start` / `message_delta`; adds the invocation metrics to `message_stop`. */
  private note(json: string): string {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return json;
    }
    const usage = (
      parsed.type === 'message_start'
        ? (parsed.message as { usage?: unknown } | undefined)?.usage
        : parsed.usage
    ) as { input_tokens?: unknown; output_tokens?: unknown } | undefined;
    if (typeof usage?.input_tokens === 'number') this.inputTokens = usage.input_tokens;
    if (typeof usage?.output_tokens === 'number') this.outputTokens = usage.output_tokens;
    if (parsed.type !== 'message_stop' || Object.hasOwn(parsed, METRICS_KEY)) return json;
    const now = Date.now();
    return JSON.stringify({
      ...parsed,
      [METRICS_KEY]: {
        inputTokenCount: this.inputTokens,
        outputTokenCount: this.outputTokens,
        invocationLatency: now - this.startedAt,
        firstByteLatency: (this.firstByteAt ?? now) - this.startedAt,
      },
    });
  }
}

function contentType(headers: OutgoingHttpHeaders): string {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'content-type') return String(value ?? '');
  }
  return '';
}

/**
 * A response for `relayResponse` that writes to `res`, re-encoding an SSE answer as an AWS event stream. It offers
 * exactly what the relay uses of a `ServerResponse` (writeHead, flushHeaders, write with back-pressure, end,
 * drain/close events, socket, destroyed).
 */
export function eventStreamResponse(res: ServerResponse, startedAt: number = Date.now()): ServerResponse {
  let encoder: SseToEventStream | null = null;
  return responseAdapter(res, {
    writeHead(status, headers) {
      if (/^text\/event-stream\b/i.test(contentType(headers))) {
        encoder = new SseToEventStream(startedAt);
        const out: OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(headers)) {
          if (name.toLowerCase() !== 'content-type') out[name] = value;
        }
        out['content-type'] = 'application/vnd.amazon.eventstream';
        out['x-amzn-bedrock-content-type'] = 'application/json';
        res.writeHead(status, out);
      } else {
        res.writeHead(status, headers);
      }
    },
    flushHeaders() {
      res.flushHeaders();
    },
    write(chunk) {
      if (!encoder) return res.write(chunk);
      const frames = encoder.push(chunk);
      return frames.length === 0 ? true : res.write(frames);
    },
    end(chunk) {
      if (chunk !== undefined && encoder) res.end(encoder.push(chunk));
      else if (chunk !== undefined) res.end(chunk);
      else res.end();
    },
  });
}
