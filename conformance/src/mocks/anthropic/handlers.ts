/**
 * msw handlers of the mock Anthropic Messages API: POST /v1/messages and POST /v1/messages/count_tokens, plus the
 * HTTP control interface under /__ocg/control/* for kits and launchers that drive the mock from another process.
 * Fidelity (protocol-facts §7): the API key is required (`x-api-key`, or `Authorization: Bearer` as SDK 1.x sends it), every answer carries `request-id` and
 * `anthropic-ratelimit-*`, 429/529 carry `retry-after`, streams carry `ping` and cumulative `message_delta.usage`.
 */

import { type HttpHandler, http } from 'msw';
import { formatSseEvent } from '../../util/sse.ts';
import { controlHandlers } from '../control.ts';
import { ConnectionCut, DESTROY_CONNECTION_HEADER } from '../serve.ts';
import {
  cannedEvents,
  cannedMessage,
  commonHeaders,
  errorEnvelope,
  errorTypeForStatus,
  estimateTokens,
  type MockEvent,
  randomId,
} from './responses.ts';
import { type MockScript, scriptProblems } from './script.ts';

/** What the handlers need from the mock's state. */
export interface AnthropicMockState {
  readonly apiKey: string;
  /** Takes the script for the next response, if one is queued. */
  takeScript(): MockScript | undefined;
  enqueue(...scripts: MockScript[]): void;
  /** Resolves at the next `release()`, or rejects when `signal` aborts. */
  waitForRelease(signal: AbortSignal): Promise<void>;
  release(): void;
  reset(): void;
  /** Recorded requests as plain JSON (for the HTTP control API). */
  requestsJson(): unknown[];
  waitForRequestJson(filter: { method?: string; pathPrefix?: string }, timeoutMs: number): Promise<unknown>;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string>): Response {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Splits a raw SSE transcript after each blank line (LF, CRLF or CR framing), keeping the bytes as they are. */
function splitTranscript(transcript: string): string[] {
  return transcript.split(/(?<=\r\n\r\n|\n\n|\r\r(?!\n))/).filter((chunk) => chunk !== '');
}

function sseStream(
  events: Array<MockEvent | string>,
  script: MockScript,
  state: AnthropicMockState,
  signal: AbortSignal,
) {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (script.cutAfter !== undefined && i === script.cutAfter) {
          controller.error(new ConnectionCut());
          return;
        }
        if (script.holdAfter !== undefined && i === script.holdAfter && i < events.length) {
          await state.waitForRelease(signal);
        }
        if (i >= events.length) {
          controller.close();
          return;
        }
        if (i > 0 && script.eventDelayMs) await sleep(script.eventDelayMs, signal);
        const event = events[i++] as MockEvent | string;
        const text = typeof event === 'string' ? event : formatSseEvent(event.event, event.data);
        controller.enqueue(encoder.encode(text));
      } catch (err) {
        controller.error(err);
      }
    },
  });
}

type Endpoint = 'messages' | 'count_tokens';

async function answer(endpoint: Endpoint, request: Request, state: AnthropicMockState): Promise<Response> {
  const requestId = randomId('req');
  const headers = commonHeaders(requestId);
  const error = (status: number, message: string, type = errorTypeForStatus(status)) =>
    jsonResponse(status, errorEnvelope(type, message, requestId), headers);

  // The API takes its key in `x-api-key`; SDK 1.x sends it as `Authorization: Bearer <key>`: accept either.
  if (
    request.headers.get('x-api-key') !== state.apiKey &&
    request.headers.get('authorization') !== `Bearer ${state.apiKey}`
  ) {
    return error(401, 'invalid x-api-key');
  }
  if (!request.headers.get('anthropic-version')) {
    return error(400, 'anthropic-version: header is required');
  }
  const script = state.takeScript() ?? {};
  if (script.delayMs) await sleep(script.delayMs, request.signal);
  if (script.cutAfter === 0) {
    return new Response(null, { headers: { [DESTROY_CONNECTION_HEADER]: '1' } });
  }
  const status = script.status ?? 200;
  const extra = { ...(status === 429 || status === 529 ? { 'retry-after': '1' } : {}), ...script.headers };
  const withExtra: Record<string, string> = { ...headers, ...extra };
  // A scripted header with an empty value removes it (e.g. a 429 without `retry-after`).
  for (const [name, value] of Object.entries(withExtra)) if (value === '') delete withExtra[name];

  if (script.events || script.transcript !== undefined) {
    const events = script.events ?? splitTranscript(script.transcript ?? '');
    return new Response(sseStream(events, script, state, request.signal), {
      status,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        ...withExtra,
      },
    });
  }
  if (script.body !== undefined) return jsonResponse(status, script.body, withExtra);
  if (status >= 400) {
    const type = errorTypeForStatus(status);
    const message = type === 'overloaded_error' ? 'Overloaded' : `scripted ${status} ${type}`;
    return jsonResponse(status, errorEnvelope(type, message, requestId), withExtra);
  }

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await request.text());
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    return error(400, 'The request body is not valid JSON.');
  }
  if (typeof body.model !== 'string' || body.model === '') return error(400, 'model: Field required');
  if (!Array.isArray(body.messages)) return error(400, 'messages: Field required');
  const inputTokens = estimateTokens([body.system ?? '', body.messages, body.tools ?? []]);
  if (endpoint === 'count_tokens') return jsonResponse(status, { input_tokens: inputTokens }, withExtra);
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    return error(400, 'max_tokens: Field required');
  }
  if (body.stream === true) {
    return new Response(sseStream(cannedEvents(body.model, inputTokens), script, state, request.signal), {
      status,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        ...withExtra,
      },
    });
  }
  return jsonResponse(status, cannedMessage(body.model, inputTokens), withExtra);
}

/** The msw handlers of the mock Anthropic API (Messages + count_tokens + control). */
export function createAnthropicHandlers(state: AnthropicMockState): HttpHandler[] {
  return [
    http.post('*/v1/messages', ({ request }) => answer('messages', request, state)),
    http.post('*/v1/messages/count_tokens', ({ request }) => answer('count_tokens', request, state)),
    ...controlHandlers(state, scriptProblems),
  ];
}
