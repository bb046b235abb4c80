/**
 * Bedrock- and Vertex-shaped request bodies → the Anthropic Messages body (PASSTHROUGH-1).
 *
 * - Bedrock: the Messages body without `model`/`stream`, with `anthropic_version` (`bedrock-2023-05-31`) and
 *   optionally `anthropic_beta: [...]`. The betas become the `anthropic-beta` header (where the Anthropic API reads
 *   them); `model` comes from the path, `stream` from the operation.
 * - Vertex: the Messages body without `model`, with `anthropic_version` (`vertex-2023-10-16`); betas are already
 *   in the `anthropic-beta` header; `stream` is true on `:streamRawPredict`, else taken from the body.
 *
 * Token counts (PASSTHROUGH-8, PASSTHROUGH-9) become the `POST /v1/messages/count_tokens` body:
 *
 * - Bedrock CountTokens: `{"input": {"invokeModel": {"body": "<base64>"}}}`, the base64 of an InvokeModel body
 *   (as above); decoded, it loses the members only generation takes ({@link GENERATION_ONLY}: `max_tokens`,
 *   `stream`, `temperature`, …, which count_tokens refuses), and `model` comes from the path. Bedrock's other
 *   input, `input.converse`, is refused: it is not an Anthropic body.
 * - Vertex `count-tokens:rawPredict`: already a count_tokens body, with `anthropic_version` and the model as a Vertex
 *   id in the body; `anthropic_version` (and a stray `stream`) go, and `model` becomes the catalogue id.
 *
 * The pipeline validated only the body's outline (the ops' schemas are permissive, since the provider shape is not
 * the Messages shape): the members relied on here are checked here, and a bad one is a `400
 * invalid_request_error`, rendered in the provider's error shape.
 */
import { GatewayError } from '../errors.ts';

export interface AnthropicRequest {
  /** The Messages body (`model` first, then the client's members, then `stream`). */
  json: Record<string, unknown>;
  raw: Buffer;
  /** Betas for the `anthropic-beta` header (Bedrock's `anthropic_beta`), or empty. */
  betas: string[];
}

/** Headers never relayed from a provider-shaped request: its own auth and protocol headers are not Anthropic's. */
const PROVIDER_HEADER = /^(x-amz-|x-amzn-|x-goog-|anthropic-version$|anthropic-beta$|accept$|content-type$)/i;

/** Members of a Messages body that only generation takes: `POST /v1/messages/count_tokens` refuses them. */
export const GENERATION_ONLY: ReadonlySet<string> = new Set([
  'max_tokens',
  'stream',
  'metadata',
  'stop_sequences',
  'temperature',
  'top_k',
  'top_p',
  'service_tier',
  'container',
  'inference_geo',
  'diagnostics',
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const invalid = (message: string) => new GatewayError('ERR_INVALID_REQUEST', message);

/**
 * The members every provider-shaped body shares, checked: `anthropic_version` (required), `anthropic_beta`
 * (optional), `messages` (required); `model` is set aside (the caller decides where the model comes from).
 */
function providerMembers(body: unknown): {
  betas: string[];
  model: unknown;
  stream: unknown;
  rest: Record<string, unknown>;
} {
  if (!isObject(body)) throw invalid('The request body must be a JSON object.');
  const { anthropic_version: version, anthropic_beta: beta, model, stream, ...rest } = body;
  if (typeof version !== 'string' || version === '') {
    throw invalid('anthropic_version is required (a string).');
  }
  let betas: string[] = [];
  if (beta !== undefined) {
    if (!Array.isArray(beta) || !beta.every((b) => typeof b === 'string')) {
      throw invalid('anthropic_beta must be an array of strings.');
    }
    betas = beta as string[];
  }
  if (!Array.isArray(rest.messages)) throw invalid('messages is required (an array).');
  return { betas, model, stream, rest };
}

function request(json: Record<string, unknown>, betas: string[]): AnthropicRequest {
  return { json, raw: Buffer.from(JSON.stringify(json), 'utf8'), betas };
}

/**
 * The Anthropic body for a provider-shaped one.
 *
 * @throws GatewayError 400 when the body is not an object, `anthropic_version` is not a string, `anthropic_beta`
 *   is not an array of strings, `messages` is not an array or `max_tokens` is not a positive integer.
 */
export function toAnthropicRequest(
  provider: 'bedrock' | 'vertex',
  body: unknown,
  model: string,
  stream: boolean | 'from-body',
): AnthropicRequest {
  const { betas, stream: bodyStream, rest } = providerMembers(body);
  if (!Number.isInteger(rest.max_tokens) || (rest.max_tokens as number) < 1) {
    throw invalid('max_tokens is required (a positive integer).');
  }
  // Bedrock has no `stream` member (the operation decides); a stray one is ignored, as is a stray `model`.
  const streaming = stream === 'from-body' ? provider === 'vertex' && bodyStream === true : stream;
  return request({ model, ...rest, stream: streaming }, betas);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The InvokeModel body inside a Bedrock CountTokens body (`input.invokeModel.body`, base64), decoded.
 *
 * @throws GatewayError 400 when `input.invokeModel.body` is missing, not base64 or not the base64 of a JSON
 *   object, or when the input is `input.converse`
 */
export function bedrockCountTokensBody(body: unknown): unknown {
  const input = isObject(body) ? body.input : undefined;
  if (!isObject(input)) throw invalid('input is required (an object with invokeModel.body).');
  if (input.invokeModel === undefined && input.converse !== undefined) {
    throw invalid(
      'input.converse is not supported: send input.invokeModel.body, the base64 of an InvokeModel body.',
    );
  }
  const encoded = isObject(input.invokeModel) ? input.invokeModel.body : undefined;
  if (typeof encoded !== 'string') {
    throw invalid('input.invokeModel.body is required (the base64 of an InvokeModel body).');
  }
  const text = BASE64.test(encoded) ? Buffer.from(encoded, 'base64').toString('utf8') : null;
  let decoded: unknown;
  try {
    decoded = text === null ? undefined : JSON.parse(text);
  } catch {
    // below
  }
  if (!isObject(decoded)) {
    throw invalid('input.invokeModel.body must be the base64 of a JSON object (an InvokeModel body).');
  }
  return decoded;
}

/**
 * The count_tokens body for a Bedrock CountTokens body: the decoded InvokeModel body without the members only
 * generation takes, with the catalogue `model`.
 *
 * @throws GatewayError 400 as {@link bedrockCountTokensBody}, and for the decoded body as {@link toAnthropicRequest}
 *   (except that `max_tokens` is not required)
 */
export function bedrockCountTokensRequest(body: unknown, model: string): AnthropicRequest {
  const { betas, rest } = providerMembers(bedrockCountTokensBody(body));
  const json: Record<string, unknown> = { model };
  for (const [key, value] of Object.entries(rest)) if (!GENERATION_ONLY.has(key)) json[key] = value;
  return request(json, betas);
}

/** The Vertex model id a `count-tokens:rawPredict` body names. @throws GatewayError 400 without one. */
export function vertexCountTokensModel(body: unknown): string {
  const model = isObject(body) ? body.model : undefined;
  if (typeof model !== 'string' || model.trim() === '') {
    throw invalid('model is required (a Vertex model id such as claude-sonnet-4-5@20250929).');
  }
  return model;
}

/**
 * The count_tokens body for a Vertex `count-tokens:rawPredict` body: without `anthropic_version`, with the catalogue
 * `model` in place of the Vertex id.
 *
 * @throws GatewayError 400 as {@link toAnthropicRequest} (except that `max_tokens` is not required)
 */
export function vertexCountTokensRequest(body: unknown, model: string): AnthropicRequest {
  // A stray `stream` goes too: count_tokens refuses it.
  const { betas, rest } = providerMembers(body);
  return request({ model, ...rest }, betas);
}

/**
 * The headers relayed upstream for a provider-shaped request: the client's, minus the provider's auth and
 * protocol headers, plus `content-type`, `accept`, `anthropic-version: 2023-06-01` and the betas.
 */
export function anthropicRequestHeaders(
  rawHeaders: readonly string[],
  betas: readonly string[],
  stream: boolean,
): string[] {
  const out: string[] = [];
  const clientBetas: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    if (name.toLowerCase() === 'anthropic-beta') clientBetas.push(value);
    if (PROVIDER_HEADER.test(name)) continue;
    out.push(name, value);
  }
  out.push('content-type', 'application/json');
  out.push('accept', stream ? 'text/event-stream' : 'application/json');
  out.push('anthropic-version', '2023-06-01');
  const allBetas = [...clientBetas.flatMap((v) => v.split(',')), ...betas]
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (allBetas.length > 0) out.push('anthropic-beta', [...new Set(allBetas)].join(','));
  return out;
}
