/**
 * msw handlers of the mock Bedrock runtime: `POST /model/{id}/invoke`, `/invoke-with-response-stream` and
 * `/count-tokens`, plus the HTTP control interface under /__ocg/control/*.
 *
 * Fidelity (protocol-facts §2 and §7): SigV4 with service `bedrock` is verified (or a Bedrock API key bearer);
 * bodies with `model` or `stream` are refused and `anthropic_version` is required, as real Bedrock does
 * ("extraneous key [model] is not permitted"); invoke answers carry `x-amzn-requestid` and the
 * `x-amzn-bedrock-*-token-count` headers; streams are CRC-valid event-stream frames with the `p` padding field,
 * the final chunk carries `amazon-bedrock-invocationMetrics`, there is no `ping`; errors answer
 * `x-amzn-ErrorType: <Name>:http://internal.amazon.com/coral/com.amazon.bedrock/` with `{"message"}`.
 * The answers are the Anthropic mock's canned answers (same text, same token estimates), so a gateway can be
 * checked to give identical client-visible results through either upstream.
 */

import { randomUUID } from 'node:crypto';
import { type HttpHandler, http } from 'msw';
import {
  cannedEvents,
  cannedMessage,
  estimateTokens,
  type MockEvent,
  randomId,
} from '../anthropic/responses.ts';
import { controlHandlers } from '../control.ts';
import { ConnectionCut, DESTROY_CONNECTION_HEADER } from '../serve.ts';
import { chunkFrame, corrupted, errorFrame, exceptionFrame, rawChunkFrame } from './eventstream.ts';
import type { MockBedrockFrame, MockBedrockScript } from './script.ts';
import { bedrockScriptProblems } from './script.ts';
import { type AuthExpectation, verifyRequestAuth } from './sigv4.ts';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
const ERROR_TYPE_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

/** What the handlers need from the mock's state. */
export interface BedrockMockState {
  readonly auth: AuthExpectation;
  takeScript(): MockBedrockScript | undefined;
  enqueue(...scripts: MockBedrockScript[]): void;
  waitForRelease(signal: AbortSignal): Promise<void>;
  release(): void;
  reset(): void;
  requestsJson(): unknown[];
  waitForRequestJson(filter: { method?: string; pathPrefix?: string }, timeoutMs: number): Promise<unknown>;
}

/** Default exception name per HTTP status (aws-sdk-js-v3 bedrock-runtime error schemas). */
export function bedrockErrorName(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 408:
      return 'ModelTimeoutException';
    case 424:
      return 'ModelErrorException';
    case 429:
      return 'ThrottlingException';
    case 503:
      return 'ServiceUnavailableException';
    default:
      return status >= 500 ? 'InternalServerException' : 'ValidationException';
  }
}

const DEFAULT_MESSAGES: Record<string, string> = {
  ThrottlingException: 'Too many tokens, please wait before trying again.',
  ServiceUnavailableException: 'Bedrock is unable to process your request.',
  ModelNotReadyException: 'Model is not ready for inference. Wait and try your request again.',
  ResourceNotFoundException: 'Model not found. arn:aws:bedrock:us-east-1:123456789012:foundation-model/x',
  AccessDeniedException:
    'User: arn:aws:iam::123456789012:user/ocg is not authorized to perform: bedrock:InvokeModel',
  ModelTimeoutException: 'Model has timed out in processing the request.',
  InternalServerException: 'The server encountered an internal error while processing the request.',
};

/** The Anthropic-style model name Bedrock answers with: `us.anthropic.claude-x-20250101-v1:0` → `claude-x-20250101`. */
export function anthropicModelName(modelId: string): string {
  const last = modelId.split('/').pop() ?? modelId;
  return last.replace(/^(?:[a-z]{2,6}\.)?anthropic\./, '').replace(/-v\d+(?::\d+)?$/, '');
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

function baseHeaders(): Record<string, string> {
  return { 'x-amzn-requestid': randomUUID(), date: new Date().toUTCString() };
}

function errorResponse(
  status: number,
  name: string,
  message: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ message }), {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': `${name}${ERROR_TYPE_SUFFIX}`,
      ...baseHeaders(),
      ...extra,
    },
  });
}

function frameBytes(frame: MockBedrockFrame, pad: boolean): Uint8Array {
  if ('exception' in frame) {
    return exceptionFrame(frame.exception, {
      message:
        frame.message ??
        DEFAULT_MESSAGES[frame.exception.charAt(0).toUpperCase() + frame.exception.slice(1)] ??
        'error',
      // Real Bedrock adds the model's own status and message to this one.
      ...(frame.exception === 'modelStreamErrorException'
        ? { originalStatusCode: 500, originalMessage: 'The model failed while streaming.' }
        : {}),
      ...frame.fields,
    });
  }
  if ('errorCode' in frame) return errorFrame(frame.errorCode, frame.message ?? 'error');
  if ('rawPayload' in frame) return rawChunkFrame(frame.rawPayload);
  if ('corrupt' in frame) return corrupted(chunkFrame(frame.corrupt.data, pad));
  return chunkFrame(frame.data, pad);
}

function eventStream(
  frames: MockBedrockFrame[],
  script: MockBedrockScript,
  state: BedrockMockState,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (script.cutAfter !== undefined && i === script.cutAfter) {
          controller.error(new ConnectionCut());
          return;
        }
        if (script.holdAfter !== undefined && i === script.holdAfter && i < frames.length) {
          await state.waitForRelease(signal);
        }
        if (i >= frames.length) {
          controller.close();
          return;
        }
        if (i > 0 && script.eventDelayMs) await sleep(script.eventDelayMs, signal);
        controller.enqueue(frameBytes(frames[i++] as MockBedrockFrame, !script.noPadding));
      } catch (err) {
        controller.error(err);
      }
    },
  });
}

/** The canned stream as Bedrock sends it: no ping, `msg_bdrk_` ids, output-only delta usage, metrics at the end. */
function cannedFrames(model: string, inputTokens: number): MockBedrockFrame[] {
  const events = cannedEvents(model, inputTokens).filter((e) => e.event !== 'ping');
  let outputTokens = 0;
  for (const e of events) {
    const data = e.data as Record<string, unknown>;
    if (e.event === 'message_start') {
      (data.message as Record<string, unknown>).id = randomId('msg_bdrk');
    }
    if (e.event === 'message_delta') {
      const usage = data.usage as Record<string, number>;
      outputTokens = usage.output_tokens ?? 0;
      data.usage = { output_tokens: outputTokens };
    }
    if (e.event === 'message_stop') {
      data['amazon-bedrock-invocationMetrics'] = {
        inputTokenCount: inputTokens,
        outputTokenCount: outputTokens,
        invocationLatency: 1234,
        firstByteLatency: 321,
      };
    }
  }
  return events as MockEvent[];
}

type Action = 'invoke' | 'invoke-with-response-stream' | 'count-tokens';
const MODEL_PATH = /\/model\/([^/]+)\/(invoke|invoke-with-response-stream|count-tokens)$/;

/** Checks an invoke body the way Bedrock's Anthropic models do; returns the problem or null. */
function bodyProblem(body: Record<string, unknown>, requireMaxTokens: boolean): string | null {
  for (const key of ['model', 'stream']) {
    if (key in body) {
      return `Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`;
    }
  }
  if (body.anthropic_version === undefined) {
    return 'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.';
  }
  // `bedrock-2023-05-31` (protocol-facts §2, the AWS docs, older SDKs); @anthropic-ai/bedrock-sdk 1.2 copies the
  // client's `anthropic-version` header (e.g. `2026-10-21`) into the body instead: both are accepted.
  if (
    typeof body.anthropic_version !== 'string' ||
    !(
      body.anthropic_version === BEDROCK_ANTHROPIC_VERSION ||
      /^\d{4}-\d{2}-\d{2}$/.test(body.anthropic_version)
    )
  ) {
    return 'Invalid API version';
  }
  if (body.anthropic_beta !== undefined) {
    if (!Array.isArray(body.anthropic_beta) || body.anthropic_beta.some((b) => typeof b !== 'string')) {
      return 'Malformed input request: #/anthropic_beta: expected type: JSONArray of strings';
    }
  }
  if (!Array.isArray(body.messages)) {
    return 'Malformed input request: #: required key [messages] not found, please reformat your input and try again.';
  }
  if (requireMaxTokens && (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens))) {
    return 'Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.';
  }
  return null;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

async function answer(request: Request, state: BedrockMockState): Promise<Response> {
  const url = new URL(request.url);
  const match = MODEL_PATH.exec(url.pathname);
  if (!match) return errorResponse(404, 'UnknownOperationException', 'Unknown operation');
  const modelId = decodeURIComponent(match[1] as string);
  const action = match[2] as Action;
  const bytes = new Uint8Array(await request.arrayBuffer());
  const rawHeaders: Array<[string, string]> = [];
  for (const [name, value] of request.headers) rawHeaders.push([name, value]);
  // The host header is signed; WHATWG Request may have kept it out of `headers` (it is a forbidden name there).
  if (!request.headers.has('host')) rawHeaders.push(['host', url.host]);

  const auth = await verifyRequestAuth({ method: request.method, url, rawHeaders, body: bytes }, state.auth);
  if (!auth.ok) return errorResponse(403, auth.code, auth.message);

  const text = new TextDecoder().decode(bytes);
  let body = parseObject(text);
  if (!body)
    return errorResponse(
      400,
      'ValidationException',
      'Malformed input request, please reformat your input and try again.',
    );
  if (action === 'count-tokens') {
    const encoded = (body.input as { invokeModel?: { body?: unknown } } | undefined)?.invokeModel?.body;
    const inner =
      typeof encoded === 'string' ? parseObject(Buffer.from(encoded, 'base64').toString('utf8')) : null;
    if (!inner) {
      return errorResponse(
        400,
        'ValidationException',
        'The input does not adhere to the expected standards.',
      );
    }
    body = inner;
  }
  const problem = bodyProblem(body, true);
  if (problem) return errorResponse(400, 'ValidationException', problem);

  const script = state.takeScript() ?? {};
  if (script.delayMs) await sleep(script.delayMs, request.signal);
  if (script.cutAfter === 0) return new Response(null, { headers: { [DESTROY_CONNECTION_HEADER]: '1' } });
  const status = script.status ?? 200;
  if (script.body !== undefined) {
    const payload = typeof script.body === 'string' ? script.body : JSON.stringify(script.body);
    return new Response(payload, {
      status,
      headers: {
        'content-type': 'application/json',
        ...(status >= 400
          ? { 'x-amzn-errortype': `${script.errorType ?? bedrockErrorName(status)}${ERROR_TYPE_SUFFIX}` }
          : {}),
        ...baseHeaders(),
        ...script.headers,
      },
    });
  }
  if (status >= 400) {
    const name = script.errorType ?? bedrockErrorName(status);
    return errorResponse(
      status,
      name,
      script.message ?? DEFAULT_MESSAGES[name] ?? `scripted ${status}`,
      script.headers,
    );
  }

  // Same estimate as the Anthropic mock, so both upstreams report the same usage for the same conversation.
  const inputTokens = estimateTokens([body.system ?? '', body.messages, body.tools ?? []]);
  if (action === 'count-tokens') {
    return Response.json({ inputTokens }, { status, headers: { ...baseHeaders(), ...script.headers } });
  }
  const model = anthropicModelName(modelId);
  if (action === 'invoke') {
    const message = cannedMessage(model, inputTokens);
    message.id = randomId('msg_bdrk');
    const outputTokens = (message.usage as { output_tokens: number }).output_tokens;
    return Response.json(message, {
      status,
      headers: {
        ...baseHeaders(),
        'x-amzn-bedrock-invocation-latency': '1234',
        'x-amzn-bedrock-input-token-count': String(inputTokens),
        'x-amzn-bedrock-output-token-count': String(outputTokens),
        ...script.headers,
      },
    });
  }
  let frames: MockBedrockFrame[] = script.frames ?? cannedFrames(model, inputTokens);
  if (!script.frames && script.exceptionAfter) {
    const { after, exception, message } = script.exceptionAfter;
    frames = [...frames.slice(0, after), { exception, ...(message ? { message } : {}) }];
  }
  if (!script.frames && script.corruptAt !== undefined && frames[script.corruptAt]) {
    frames = frames.map((f, i) => (i === script.corruptAt && 'event' in f ? { corrupt: f } : f));
  }
  return new Response(eventStream(frames, script, state, request.signal), {
    status,
    headers: {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-bedrock-content-type': 'application/json',
      ...baseHeaders(),
      ...script.headers,
    },
  });
}

/** The msw handlers of the mock Bedrock runtime (invoke, stream, count-tokens + control). */
export function createBedrockHandlers(state: BedrockMockState): HttpHandler[] {
  return [
    ...controlHandlers(state, bedrockScriptProblems),
    http.post(MODEL_PATH, ({ request }) => answer(request, state)),
  ];
}
