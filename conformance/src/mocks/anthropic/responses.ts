/**
 * What the mock Anthropic API answers, shaped after the real one (protocol-facts §1 and §7): Message objects, the
 * SSE event sequence of a streamed message (with `ping` and cumulative `message_delta.usage`), the error envelope,
 * and the `request-id` / `anthropic-ratelimit-*` / `retry-after` headers.
 */
import { randomBytes } from 'node:crypto';

/** The text of the default answer; friendly because `npm start` uses this mock as its development upstream. */
export const DEFAULT_ANSWER =
  'Hello from the OCG development upstream! This is a canned answer from the mock Anthropic API ' +
  'in @ocg/conformance: your request reached the gateway, went upstream and came back. No model was called.';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random id in the API's style, e.g. `req_011CQ…` / `msg_01…`. */
export function randomId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ID_ALPHABET[byte % ID_ALPHABET.length];
  return `${prefix}_01${out}`;
}

/** The error type the API uses for an HTTP status (errors doc). */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** `{"type":"error","error":{type,message},"request_id"}`. */
export function errorEnvelope(type: string, message: string, requestId: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, request_id: requestId };
}

/** Rough token estimate used for usage numbers: about four characters per token. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The headers every answer carries. */
export function commonHeaders(requestId: string): Record<string, string> {
  const reset = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const headers: Record<string, string> = { 'request-id': requestId };
  for (const [kind, limit] of [
    ['requests', 4000],
    ['tokens', 2_000_000],
    ['input-tokens', 1_600_000],
    ['output-tokens', 400_000],
  ] as const) {
    headers[`anthropic-ratelimit-${kind}-limit`] = String(limit);
    headers[`anthropic-ratelimit-${kind}-remaining`] = String(limit - 1);
    headers[`anthropic-ratelimit-${kind}-reset`] = reset;
  }
  return headers;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  server_tool_use: null;
  service_tier: string;
}

function usage(input: number, output: number): Usage {
  return {
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    server_tool_use: null,
    service_tier: 'standard',
  };
}

/** A complete non-streaming Message answering with `text`. */
export function cannedMessage(
  model: string,
  inputTokens: number,
  text = DEFAULT_ANSWER,
): Record<string, unknown> {
  return {
    id: randomId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text, citations: null }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: usage(inputTokens, estimateTokens(text)),
  };
}

/** An SSE event as the mock scripts it: name plus data (object → JSON, string → as is). */
export interface MockEvent {
  event: string;
  data: unknown;
}

/** Splits `text` into a few deltas, keeping words whole. */
function chunkText(text: string): string[] {
  const words = text.split(/(?<= )/);
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += 4) chunks.push(words.slice(i, i + 4).join(''));
  return chunks;
}

/**
 * The event sequence of a streamed text answer: message_start, content_block_start, ping, text deltas,
 * content_block_stop, message_delta (cumulative usage), message_stop.
 */
export function cannedEvents(model: string, inputTokens: number, text = DEFAULT_ANSWER): MockEvent[] {
  const id = randomId('msg');
  const chunks = chunkText(text);
  const events: MockEvent[] = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usage(inputTokens, 1),
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    { event: 'ping', data: { type: 'ping' } },
  ];
  for (const chunk of chunks) {
    events.push({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: chunk } },
    });
  }
  const outputTokens = estimateTokens(text);
  events.push(
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        // Cumulative: the final counts, with input and cache fields repeated as recorded streams do.
        usage: {
          input_tokens: inputTokens,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: outputTokens,
        },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  );
  return events;
}
