/**
 * msw handlers of the mock Google Vertex AI endpoint for Anthropic models (protocol-facts §3 and §7), plus the same
 * HTTP control interface as the Anthropic mock under /__ocg/control/*.
 *
 * Wire shape, as `@anthropic-ai/vertex-sdk` and Vertex speak it:
 * - `POST {base}/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict` (JSON answer) and
 *   `…:streamRawPredict` (SSE), body = the Anthropic body **without** `model`, **with** `anthropic_version`.
 * - `POST …/publishers/anthropic/models/count-tokens:rawPredict`, body **with** `model`.
 * - `Authorization: Bearer <OAuth2 access token>`; a missing or wrong one is a Google `401 UNAUTHENTICATED`.
 * - Platform errors use the Google envelope `{"error":{"code","message","status"}}` with
 *   `content-type: application/json; charset=UTF-8`; model-level errors the Anthropic envelope.
 * - Message ids look like `msg_vrtx_…`.
 *
 * The mock is deliberately strict where the real service is strict or undocumented, so a gateway that gets the
 * shape wrong fails here rather than in production: `model` in a predict body, a missing `anthropic_version`, an
 * unknown version (Vertex reportedly answers 404), or a `stream` flag that contradicts the method are refused.
 */

import { type HttpHandler, http } from 'msw';
import { formatSseEvent } from '../../util/sse.ts';
import {
  cannedEvents,
  cannedMessage,
  errorEnvelope,
  estimateTokens,
  type MockEvent,
  randomId,
} from '../anthropic/responses.ts';
import { type MockScript, scriptProblems } from '../anthropic/script.ts';
import { controlHandlers } from '../control.ts';
import { ConnectionCut, DESTROY_CONNECTION_HEADER } from '../serve.ts';

/** What the handlers need from the mock's state. */
export interface VertexMockState {
  /** Whether the mock accepts this bearer token. */
  acceptsToken(token: string): boolean;
  /** When set, only this project is served (others: 403 PERMISSION_DENIED, as for a project without access). */
  readonly projectId: string | undefined;
  /** `anthropic_version` values the mock accepts. */
  readonly versions: ReadonlySet<string>;
  takeScript(): MockScript | undefined;
  enqueue(...scripts: MockScript[]): void;
  waitForRelease(signal: AbortSignal): Promise<void>;
  release(): void;
  reset(): void;
  requestsJson(): unknown[];
  waitForRequestJson(filter: { method?: string; pathPrefix?: string }, timeoutMs: number): Promise<unknown>;
}

/** google.rpc.Code names by HTTP status, as Google APIs map them (google/rpc/code.proto). */
const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The Google status name for an HTTP status (`UNKNOWN` for anything unlisted). */
export function googleStatusFor(status: number): string {
  return GOOGLE_STATUS[status] ?? (status >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION');
}

/** Messages shaped after the real ones; they name the project, as Google's do (gateways must not relay them). */
function googleMessage(status: number, project: string): string {
  switch (status) {
    case 401:
      return 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
    case 403:
      return `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}/locations/us-east5/publishers/anthropic/models/claude' (or it may not exist).`;
    case 404:
      return `Publisher Model \`projects/${project}/locations/us-east5/publishers/anthropic/models/claude\` not found.`;
    case 429:
      return `Quota exceeded for aiplatform.googleapis.com/online_prediction_input_tokens_per_minute_per_base_model with base model: anthropic-claude-sonnet-4-5. Please submit a quota increase request in project ${project}.`;
    case 503:
      return 'The service is currently unavailable.';
    case 504:
      return 'Deadline exceeded.';
    default:
      return `scripted ${status} ${googleStatusFor(status)} for project ${project}`;
  }
}

/** `{"error":{"code","message","status"}}`, the Google API error envelope. */
export function googleErrorEnvelope(code: number, message: string, status = googleStatusFor(code)) {
  return { error: { code, message, status } };
}

const GOOGLE_JSON = 'application/json; charset=UTF-8';

function googleError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(googleErrorEnvelope(status, message)), {
    status,
    headers: { 'content-type': GOOGLE_JSON, ...headers },
  });
}

function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(errorEnvelope(type, message, randomId('req_vrtx'))), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
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

function splitTranscript(transcript: string): string[] {
  return transcript.split(/(?<=\r\n\r\n|\n\n|\r\r(?!\n))/).filter((chunk) => chunk !== '');
}

function sseStream(
  events: Array<MockEvent | string>,
  script: MockScript,
  state: VertexMockState,
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
        controller.enqueue(
          encoder.encode(typeof event === 'string' ? event : formatSseEvent(event.event, event.data)),
        );
      } catch (err) {
        controller.error(err);
      }
    },
  });
}

/** A parsed Vertex model path. */
interface VertexPath {
  project: string;
  region: string;
  model: string;
  method: 'rawPredict' | 'streamRawPredict';
}

const PATH =
  /\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/]+):(rawPredict|streamRawPredict)$/;

function parsePath(url: string): VertexPath | null {
  const m = PATH.exec(new URL(url).pathname);
  if (!m) return null;
  try {
    return {
      project: decodeURIComponent(m[1] as string),
      region: decodeURIComponent(m[2] as string),
      model: decodeURIComponent(m[3] as string),
      method: m[4] as VertexPath['method'],
    };
  } catch {
    return null;
  }
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

async function answer(path: VertexPath, request: Request, state: VertexMockState): Promise<Response> {
  const auth = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '');
  if (!auth || !state.acceptsToken(auth[1] as string)) {
    return googleError(401, googleMessage(401, path.project), {
      'www-authenticate': 'Bearer realm="https://accounts.google.com/"',
    });
  }
  if (state.projectId !== undefined && path.project !== state.projectId) {
    return googleError(403, googleMessage(403, path.project));
  }
  const countTokens = path.model === 'count-tokens';
  if (countTokens && path.method !== 'rawPredict') return googleError(404, googleMessage(404, path.project));

  const script = state.takeScript() ?? {};
  if (script.delayMs) await sleep(script.delayMs, request.signal);
  if (script.cutAfter === 0) return new Response(null, { headers: { [DESTROY_CONNECTION_HEADER]: '1' } });
  const status = script.status ?? 200;
  const extra = script.headers ?? {};

  if (script.events || script.transcript !== undefined) {
    const events = script.events ?? splitTranscript(script.transcript ?? '');
    return new Response(sseStream(events, script, state, request.signal), {
      status,
      headers: { ...SSE_HEADERS, ...extra },
    });
  }
  if (script.body !== undefined) {
    const text = typeof script.body === 'string' ? script.body : JSON.stringify(script.body);
    return new Response(text, { status, headers: { 'content-type': GOOGLE_JSON, ...extra } });
  }
  if (status === 529) return anthropicError(529, 'overloaded_error', 'Overloaded', extra);
  if (status >= 400) return googleError(status, googleMessage(status, path.project), extra);

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await request.text());
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    return googleError(400, 'Invalid JSON payload received.');
  }
  const version = body.anthropic_version;
  if (version === undefined) {
    return anthropicError(400, 'invalid_request_error', 'anthropic_version: Field required');
  }
  if (typeof version !== 'string' || !state.versions.has(version)) {
    return googleError(404, googleMessage(404, path.project));
  }
  if (!Array.isArray(body.messages)) {
    return anthropicError(400, 'invalid_request_error', 'messages: Field required');
  }
  const inputTokens = estimateTokens([body.system ?? '', body.messages, body.tools ?? []]);
  if (countTokens) {
    if (typeof body.model !== 'string' || body.model === '') {
      return anthropicError(400, 'invalid_request_error', 'model: Field required');
    }
    return new Response(JSON.stringify({ input_tokens: inputTokens }), {
      status,
      headers: { 'content-type': 'application/json', ...extra },
    });
  }
  if ('model' in body) {
    return anthropicError(400, 'invalid_request_error', 'model: Extra inputs are not permitted');
  }
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    return anthropicError(400, 'invalid_request_error', 'max_tokens: Field required');
  }
  const streaming = body.stream === true;
  if (streaming !== (path.method === 'streamRawPredict')) {
    return googleError(
      400,
      streaming
        ? 'Use streamRawPredict for a streaming request.'
        : 'streamRawPredict requires "stream": true.',
    );
  }
  if (streaming) {
    const events = cannedEvents(path.model, inputTokens);
    const start = events[0]?.data as { message: { id: string } };
    start.message.id = randomId('msg_vrtx');
    return new Response(sseStream(events, script, state, request.signal), {
      status,
      headers: { ...SSE_HEADERS, ...extra },
    });
  }
  const message = { ...cannedMessage(path.model, inputTokens), id: randomId('msg_vrtx') };
  return new Response(JSON.stringify(message), {
    status,
    headers: { 'content-type': 'application/json', ...extra },
  });
}

/** The msw handlers of the mock Vertex endpoint (rawPredict, streamRawPredict, count-tokens, control). */
export function createVertexHandlers(state: VertexMockState): HttpHandler[] {
  return [
    ...controlHandlers(state, scriptProblems),
    http.post(
      ({ request }) => parsePath(request.url) !== null,
      ({ request }) => answer(parsePath(request.url) as VertexPath, request, state),
    ),
    // Anything else under the API is a Google 404, as an unknown method or resource is there.
    http.all(
      ({ request }) => !new URL(request.url).pathname.startsWith('/__ocg/'),
      ({ request }) =>
        googleError(404, `The requested URL ${new URL(request.url).pathname} was not found on this server.`),
    ),
  ];
}
