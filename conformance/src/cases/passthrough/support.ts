/**
 * Shared pieces of the pass-through cases (features `bedrock-passthrough`, `vertex-passthrough`; PASSTHROUGH-*):
 * provider-shaped request bodies and paths, sending them as a Bedrock or Vertex client does (the gateway's access
 * token as the bearer, as Claude Code sends it with `CLAUDE_CODE_SKIP_BEDROCK_AUTH` / `…_VERTEX_AUTH`), reading
 * Bedrock and Google errors, and reading an AWS event stream frame by frame with the CRC checks of
 * `@smithy/eventstream-codec`.
 *
 * The models behind these cases are the policy fixture's: every catalogue model goes to the mock Anthropic upstream
 * (`ctx.mocks.anthropic`), so a pass-through request arrives there as a Messages request, and the cases compare it
 * and its answer with what `POST /v1/messages` gives for the same request.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RoutingFixture } from '../../adapters/contract.ts';
import { expectThat, fail } from '../../errors.ts';
import type { MockEvent } from '../../mocks/anthropic/index.ts';
import type { GatewayResponse, HeaderList } from '../../runner/client.ts';
import type { CaseContext } from '../../runner/types.ts';
import { type EventStreamFrame, EventStreamFrameError, EventStreamReader } from '../../util/eventstream.ts';

/** `anthropic_version` of a Bedrock body (protocol-facts §2). */
export const BEDROCK_VERSION = 'bedrock-2023-05-31';
/** `anthropic_version` of a Vertex body (protocol-facts §3). */
export const VERTEX_VERSION = 'vertex-2023-10-16';

/** Bedrock's exception name for each status PASSTHROUGH-6 names. */
export const BEDROCK_EXCEPTION: Readonly<Record<number, string>> = {
  400: 'ValidationException',
  401: 'UnrecognizedClientException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

/** Google's canonical status name for each HTTP status PASSTHROUGH-7 names. */
export const GOOGLE_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** The Messages members of a small seeded request (no `model`, no `stream`). */
export function messageMembers(ctx: CaseContext, what = 'pass-through probe'): Record<string, unknown> {
  return {
    max_tokens: 32 + ctx.rng.int(256),
    messages: [{ role: 'user', content: `${what} ${ctx.rng.string(12)}: say hello` }],
  };
}

/** A Bedrock InvokeModel body: `anthropic_version` and the Messages members. */
export function bedrockBody(ctx: CaseContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { anthropic_version: BEDROCK_VERSION, ...messageMembers(ctx, 'bedrock probe'), ...extra };
}

/** A Vertex rawPredict body: `anthropic_version` and the Messages members. */
export function vertexBody(ctx: CaseContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { anthropic_version: VERTEX_VERSION, ...messageMembers(ctx, 'vertex probe'), ...extra };
}

/** A random beta and the members of a body to count (system, a non-ASCII message, a tool), as both count cases send. */
export function countProbe(ctx: CaseContext) {
  return {
    beta: `ocg-conformance-beta-${ctx.rng.hex(4)}`,
    counted: {
      system: `You are conformance probe ${ctx.rng.string(6)}.`,
      messages: [{ role: 'user', content: `count me ${ctx.rng.string(20)} — ünïcödé ✓` }],
      tools: [{ name: `noop_${ctx.rng.hex(3)}`, input_schema: { type: 'object' } }],
    },
  };
}

/**
 * `/model/{modelId}/invoke[-with-response-stream]`, the model id path-encoded as the AWS SDKs do (`encode: false`:
 * as it is, as Claude Code sends an inference-profile id).
 */
export function bedrockPath(modelId: string, stream: boolean, encode = true): string {
  const id = encode ? encodeURIComponent(modelId) : modelId;
  return `/model/${id}/${stream ? 'invoke-with-response-stream' : 'invoke'}`;
}

/** `/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict|:streamRawPredict`. */
export function vertexPath(ctx: CaseContext, model: string, stream: boolean): string {
  const project = `ocg-conformance-${ctx.rng.hex(4)}`;
  return `/v1/projects/${project}/locations/us-east5/publishers/anthropic/models/${model}:${stream ? 'streamRawPredict' : 'rawPredict'}`;
}

export interface ProviderSend {
  /** The body: an object is sent as JSON, a string as it is. */
  body: unknown;
  /** The bearer (default: the runner's); `null`: none. */
  bearer?: string | null;
  headers?: HeaderList;
  /** Bedrock only: path-encode the model id (default true). */
  encode?: boolean;
}

/** InvokeModel / InvokeModelWithResponseStream as the Bedrock SDK in bearer mode sends it. */
export function sendBedrock(
  ctx: CaseContext,
  modelId: string,
  stream: boolean,
  options: ProviderSend,
): Promise<GatewayResponse> {
  const given = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
  return ctx.client.send({
    operationId: stream ? 'invokeBedrockModelStream' : 'invokeBedrockModel',
    path: bedrockPath(modelId, stream, options.encode ?? true),
    body: options.body,
    headers: [[stream ? 'x-amzn-bedrock-accept' : 'accept', 'application/json'], ...given],
    ...(options.bearer === undefined ? {} : { bearer: options.bearer }),
  });
}

/** rawPredict / streamRawPredict as the Vertex SDK sends it. */
export function sendVertex(
  ctx: CaseContext,
  model: string,
  stream: boolean,
  options: ProviderSend,
): Promise<GatewayResponse> {
  return ctx.client.send({
    operationId: stream ? 'vertexStreamRawPredict' : 'vertexRawPredict',
    path: vertexPath(ctx, model, stream),
    body: options.body,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.bearer === undefined ? {} : { bearer: options.bearer }),
  });
}

/** `/model/{modelId}/count-tokens`, the model id path-encoded as the AWS SDKs do. */
export function bedrockCountTokensPath(modelId: string): string {
  return `/model/${encodeURIComponent(modelId)}/count-tokens`;
}

/** `/v1/projects/{p}/locations/{l}/publishers/anthropic/models/count-tokens:rawPredict` (the model in the body). */
export function vertexCountTokensPath(ctx: CaseContext): string {
  return `/v1/projects/ocg-conformance-${ctx.rng.hex(4)}/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict`;
}

/** Bedrock CountTokens' body for an InvokeModel body: `{"input": {"invokeModel": {"body": "<base64>"}}}`. */
export function bedrockCountTokensBody(invokeBody: unknown): Record<string, unknown> {
  const text = typeof invokeBody === 'string' ? invokeBody : JSON.stringify(invokeBody);
  return { input: { invokeModel: { body: Buffer.from(text, 'utf8').toString('base64') } } };
}

/** Bedrock CountTokens as the AWS SDK's `CountTokensCommand` sends it (the body given whole, see above). */
export function sendBedrockCountTokens(
  ctx: CaseContext,
  modelId: string,
  options: ProviderSend,
): Promise<GatewayResponse> {
  return ctx.client.send({
    operationId: 'countBedrockModelTokens',
    path: bedrockCountTokensPath(modelId),
    body: options.body,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.bearer === undefined ? {} : { bearer: options.bearer }),
  });
}

/** The Vertex token count as `@anthropic-ai/vertex-sdk` `messages.countTokens` sends it. */
export function sendVertexCountTokens(ctx: CaseContext, options: ProviderSend): Promise<GatewayResponse> {
  return ctx.client.send({
    operationId: 'vertexCountTokens',
    path: vertexCountTokensPath(ctx),
    body: options.body,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.bearer === undefined ? {} : { bearer: options.bearer }),
  });
}

/** Waits for the count_tokens request the gateway sent the Anthropic mock and parses its body. */
export function upstreamCount(ctx: CaseContext, what: string): Promise<UpstreamJson> {
  return upstreamJson(ctx, '/v1/messages/count_tokens', what, 'count');
}

/** Reads a 200 JSON answer (fails otherwise). */
export async function expectJsonAnswer(res: GatewayResponse, what: string): Promise<unknown> {
  const { text, json } = await readJson(res, what);
  expectThat(res.status === 200, `${what}: expected 200, got ${res.status}`, { body: text.slice(0, 1000) });
  return json;
}

/** Messages requests the Anthropic mock received. */
export function anthropicMessageRequests(ctx: CaseContext) {
  return ctx.mocks.anthropic.requests.filter(
    (r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages',
  );
}

/** No upstream — the Anthropic mock nor a provider mock — received an inference request. */
export function expectNoUpstream(ctx: CaseContext, what: string): void {
  const seen = [
    ...ctx.mocks.anthropic.requests,
    ...ctx.mocks.bedrock.requests,
    ...ctx.mocks.vertex.requests,
  ].map((r) => `${r.method} ${r.url}`);
  expectThat(seen.length === 0, `${what}: no upstream may be contacted, but one received ${seen.join(', ')}`);
}

/**
 * The request was served through `route` — one of its targets' mocks (`bedrock` or `vertex`) received it under
 * that target's model id — and the Anthropic mock, which serves every other model, did not. Which target answered
 * is routing's business (an earlier case may have left the first one's breaker open).
 */
export function expectServedByRoute(ctx: CaseContext, route: RoutingFixture, what: string): void {
  const hits = route.targets.filter((t) => {
    const mock =
      t.mock === 'bedrock' ? ctx.mocks.bedrock : t.mock === 'vertex' ? ctx.mocks.vertex : undefined;
    return mock?.requests.some(
      (r) => r.method === 'POST' && decodeURIComponent(r.url).includes(t.upstreamModel),
    );
  });
  expectThat(
    hits.length > 0,
    `${what}: must be served as ${route.model} through its targets (${route.targets.map((t) => `${t.mock} ${t.upstreamModel}`).join(', ')}), but none of them received it`,
    {
      bedrock: ctx.mocks.bedrock.requests.map((r) => r.url),
      vertex: ctx.mocks.vertex.requests.map((r) => r.url),
    },
  );
  expectThat(
    anthropicMessageRequests(ctx).length === 0,
    `${what}: ${route.model} has no Anthropic target, but the Anthropic mock received the request`,
  );
}

/** Resets every upstream mock (between the steps of a case). */
export function resetUpstreams(ctx: CaseContext): void {
  ctx.mocks.anthropic.reset();
  ctx.mocks.bedrock.reset();
  ctx.mocks.vertex.reset();
}

/** Waits for the Messages request the gateway sent the Anthropic mock and parses its body. */
export function upstreamMessage(ctx: CaseContext, what: string): Promise<UpstreamJson> {
  return upstreamJson(ctx, '/v1/messages', what, 'request');
}

interface UpstreamJson {
  json: Record<string, unknown>;
  headers: Readonly<Record<string, string>>;
}

/** Waits for the gateway's POST to `path` at the Anthropic mock; fails unless its body is a JSON object. */
async function upstreamJson(
  ctx: CaseContext,
  path: string,
  what: string,
  noun: string,
): Promise<UpstreamJson> {
  let request: Awaited<ReturnType<CaseContext['mocks']['anthropic']['waitForRequest']>>;
  try {
    request = await ctx.mocks.anthropic.waitForRequest(
      (r) => r.method === 'POST' && r.url.split('?')[0] === path,
      5000,
    );
  } catch {
    return fail(`${what}: the gateway did not send the ${noun} upstream (POST ${path}) within 5 s`, {
      upstreamRequests: ctx.mocks.anthropic.requests.map((r) => `${r.method} ${r.url}`),
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(request.body);
  } catch {
    return fail(`${what}: the upstream received a ${noun} body that is not JSON`, {
      body: request.body.slice(0, 300),
    });
  }
  expectThat(
    typeof json === 'object' && json !== null && !Array.isArray(json),
    `${what}: the upstream ${noun} body is not an object`,
  );
  return { json: json as Record<string, unknown>, headers: request.headers };
}

/**
 * The upstream Messages body is the provider body turned into the Anthropic one: `model` the catalogue id, the
 * provider's members (`anthropic_version`, `anthropic_beta`) gone, every other member as the client sent it, and
 * `stream` as the operation says (`false` may be written or left out).
 */
export function expectAnthropicBody(
  upstream: Record<string, unknown>,
  sent: Record<string, unknown>,
  model: string,
  stream: boolean,
  what: string,
): void {
  const { anthropic_version: _v, anthropic_beta: _b, stream: _s, ...members } = sent;
  const { stream: upstreamStream, ...rest } = upstream;
  expectThat(
    stream ? upstreamStream === true : upstreamStream === undefined || upstreamStream === false,
    `${what}: the upstream request must have stream ${stream ? 'true' : 'false or absent'}, got ${JSON.stringify(upstreamStream)}`,
  );
  const want = { model, ...members };
  if (!isDeepStrictEqual(rest, want)) {
    fail(`${what}: the upstream Messages body is not the provider body turned into the Anthropic one`, {
      expected: want,
      actual: upstream,
    });
  }
}

/** The betas of an upstream request's `anthropic-beta` header. */
export function betasOf(headers: Readonly<Record<string, string>>): string[] {
  return (headers['anthropic-beta'] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/** Reads a JSON body (status not checked). */
async function readJson(res: GatewayResponse, what: string): Promise<{ text: string; json: unknown }> {
  const text = await res.text();
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    return fail(`${what}: the body is not JSON (${res.status} ${res.contentType})`, {
      body: text.slice(0, 500),
    });
  }
}

/** Reads a 200 Message (fails otherwise). */
export async function expectMessageAnswer(
  res: GatewayResponse,
  what: string,
): Promise<Record<string, unknown>> {
  const { text, json } = await readJson(res, what);
  expectThat(res.status === 200, `${what}: expected 200, got ${res.status}`, { body: text.slice(0, 1000) });
  expectThat(
    (json as { type?: unknown } | null)?.type === 'message',
    `${what}: the answer is not an Anthropic Message`,
    { body: json },
  );
  return json as Record<string, unknown>;
}

export interface BedrockErrorAnswer {
  status: number;
  /** The exception name from `x-amzn-ErrorType`, cut as the AWS SDK cuts it (before `:`, after `#`). */
  name: string;
  message: string;
  headers: Record<string, string>;
}

/**
 * Reads a Bedrock error: `x-amzn-ErrorType` naming the exception, a JSON `{"message"}` body, and the status
 * Bedrock uses for that exception (PASSTHROUGH-6).
 */
export async function expectBedrockError(
  res: GatewayResponse,
  status: number | readonly number[],
  what: string,
): Promise<BedrockErrorAnswer> {
  const { text, json } = await readJson(res, what);
  const statuses = typeof status === 'number' ? [status] : status;
  expectThat(
    statuses.includes(res.status),
    `${what}: expected status ${statuses.join(' or ')}, got ${res.status}`,
    { body: text.slice(0, 1000) },
  );
  const header = res.headers['x-amzn-errortype'];
  expectThat(
    typeof header === 'string' && header !== '',
    `${what}: a Bedrock error names its exception in x-amzn-ErrorType, which is missing`,
    { headers: res.headers, body: json },
  );
  const name = (header.split(':')[0] ?? '').split('#').at(-1) ?? '';
  const want = BEDROCK_EXCEPTION[res.status];
  expectThat(
    want === undefined || name === want,
    `${what}: x-amzn-ErrorType names ${JSON.stringify(name)}; Bedrock answers ${res.status} as ${want}`,
    { header },
  );
  const message = (json as { message?: unknown } | null)?.message;
  expectThat(
    typeof message === 'string' && message !== '',
    `${what}: a Bedrock error body is {"message": "…"}`,
    { body: json },
  );
  return { status: res.status, name, message, headers: res.headers };
}

export interface GoogleErrorAnswer {
  status: number;
  code: number;
  statusName: string;
  message: string;
}

/** Reads a Google error: `{"error": {code, message, status}}`, `code` the HTTP status, `status` its name. */
export async function expectGoogleError(
  res: GatewayResponse,
  statuses: readonly number[],
  what: string,
): Promise<GoogleErrorAnswer> {
  const { text, json } = await readJson(res, what);
  expectThat(
    statuses.includes(res.status),
    `${what}: expected status ${statuses.join(' or ')}, got ${res.status}`,
    { body: text.slice(0, 1000) },
  );
  const error = (json as { error?: { code?: unknown; message?: unknown; status?: unknown } } | null)?.error;
  expectThat(
    typeof error === 'object' &&
      error !== null &&
      typeof error.code === 'number' &&
      typeof error.message === 'string' &&
      typeof error.status === 'string',
    `${what}: the body is not the Google error envelope {"error": {"code", "message", "status"}}`,
    { body: json },
  );
  expectThat(
    error.code === res.status,
    `${what}: error.code ${error.code} is not the HTTP status ${res.status}`,
  );
  const want = GOOGLE_STATUS[res.status];
  expectThat(
    want === undefined || error.status === want,
    `${what}: error.status ${JSON.stringify(error.status)}; Google names ${res.status} ${want}`,
  );
  return { status: res.status, code: error.code, statusName: error.status, message: error.message };
}

/** One frame of a Bedrock stream, with the Anthropic event a `chunk` frame carries. */
export interface ReadFrame extends EventStreamFrame {
  /** For a chunk frame: the event JSON its `bytes` carry. */
  event?: Record<string, unknown>;
  /** ms since reading started. */
  at: number;
}

const CHUNK_HEADERS = {
  ':message-type': 'event',
  ':event-type': 'chunk',
  ':content-type': 'application/json',
} as const;

/** Decodes the Anthropic event of a chunk frame (fails unless it is one, exactly as PASSTHROUGH-5 says). */
function chunkEvent(frame: EventStreamFrame, index: number, what: string): Record<string, unknown> {
  for (const [name, value] of Object.entries(CHUNK_HEADERS)) {
    expectThat(
      frame.headers[name] === value,
      `${what}: frame #${index} has ${name} ${JSON.stringify(frame.headers[name])}, a chunk frame has ${JSON.stringify(value)}`,
      { headers: frame.headers },
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(frame.text);
  } catch {
    return fail(`${what}: the payload of frame #${index} is not JSON`, { payload: frame.text.slice(0, 300) });
  }
  const bytes = (payload as { bytes?: unknown } | null)?.bytes;
  expectThat(
    typeof bytes === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(bytes),
    `${what}: the payload of frame #${index} is not {"bytes": "<base64>"}`,
    { payload },
  );
  let event: unknown;
  try {
    event = JSON.parse(Buffer.from(bytes, 'base64').toString('utf8'));
  } catch {
    return fail(`${what}: the bytes of frame #${index} are not an event's JSON`, {
      bytes: bytes.slice(0, 300),
    });
  }
  expectThat(
    typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string',
    `${what}: the bytes of frame #${index} are not an Anthropic stream event`,
    { event },
  );
  return event as Record<string, unknown>;
}

/** A Bedrock stream being read frame by frame (see {@link openEventStream}). */
export interface EventStreamRead {
  /** Every frame read so far, in order. */
  readonly frames: ReadFrame[];
  /** The next frame, or null once the stream ended cleanly after a whole frame. */
  next(): Promise<ReadFrame | null>;
  /** Reads to the end; returns every frame (those read before included). */
  rest(): Promise<ReadFrame[]>;
}

/**
 * Reads a Bedrock event stream frame by frame as it arrives. Every frame must be CRC-valid (decoded by
 * `@smithy/eventstream-codec`); every frame that is not an exception must be a `chunk` carrying
 * `{"bytes": <base64 event JSON>}`; nothing may follow an exception frame; the stream must not end inside a frame.
 */
export function openEventStream(res: GatewayResponse, what: string): EventStreamRead {
  const frames: ReadFrame[] = [];
  const queue: EventStreamFrame[] = [];
  const started = performance.now();
  const reader = new EventStreamReader();
  const chunks = res.chunks();
  let ended = false;
  const next = async (): Promise<ReadFrame | null> => {
    while (queue.length === 0 && !ended) {
      const chunk = await chunks.next();
      if (chunk.done) {
        ended = true;
        expectThat(
          reader.pendingBytes === 0,
          `${what}: the stream ended inside a frame (${reader.pendingBytes} bytes left over)`,
        );
        break;
      }
      try {
        queue.push(...reader.push(chunk.value));
      } catch (err) {
        if (err instanceof EventStreamFrameError) {
          return fail(
            `${what}: the event stream is not CRC-valid (@smithy/eventstream-codec refused ${err.message})`,
            { framesBefore: frames.length },
          );
        }
        throw err;
      }
    }
    const frame = queue.shift();
    if (!frame) return null;
    const index = frames.length;
    expectThat(
      frames.at(-1)?.headers[':message-type'] !== 'exception',
      `${what}: frame #${index} follows an exception frame (an exception ends the stream)`,
    );
    const read: ReadFrame = { ...frame, at: performance.now() - started };
    if (frame.headers[':message-type'] !== 'exception') read.event = chunkEvent(frame, index, what);
    frames.push(read);
    return read;
  };
  return {
    frames,
    next,
    async rest() {
      while ((await next()) !== null) {
        // read on
      }
      return frames;
    },
  };
}

/** The data of an SSE event script (objects as they are, strings parsed). */
function eventData(e: MockEvent): unknown {
  return typeof e.data === 'string' ? JSON.parse(e.data) : e.data;
}

/**
 * The events of a Bedrock stream are the upstream's events, in order and unchanged — except that `ping` events
 * may be left out (Bedrock sends none) and `message_stop` may carry Bedrock's `amazon-bedrock-invocationMetrics`.
 */
export function expectSameEvents(got: Array<Record<string, unknown>>, sent: MockEvent[], what: string): void {
  const want = sent.map(eventData) as Array<Record<string, unknown>>;
  const keptPings = got.some((e) => e.type === 'ping');
  const expected = keptPings ? want : want.filter((e) => e.type !== 'ping');
  const normalised = got.map((e) => {
    if (e.type !== 'message_stop') return e;
    const { 'amazon-bedrock-invocationMetrics': _metrics, ...rest } = e;
    return rest;
  });
  if (!isDeepStrictEqual(normalised, expected)) {
    fail(`${what}: the decoded events are not the upstream's events`, {
      expected: expected.map((e) => e.type),
      actual: normalised.map((e) => e.type),
      firstDifference: normalised.findIndex((e, i) => !isDeepStrictEqual(e, expected[i])),
    });
  }
}
