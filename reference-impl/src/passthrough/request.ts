/**
 * Bedrock- and Vertex-shaped request bodies → the Anthropic Messages body (PASSTHROUGH-1).
 *
 * - Bedrock: the Messages body without `model`/`stream`, with `anthropic_version` (`bedrock-2023-05-31`) and
 *   optionally `anthropic_beta: [...]`. The betas become the `anthropic-beta` header (where the Anthropic API reads
 *   them); `model` comes from the path, `stream` from the operation.
 * - Vertex: the Messages body without `model`, with `anthropic_version` (`vertex-2023-10-16`); betas are already
 *   in the `anthropic-beta` header; `stream` is true on `:streamRawPredict`, else taken from the body.
 *
 * The pipeline validated only that the body is a JSON object (the ops' schema is permissive, since the provider
 * shape is not the Messages shape): the members relied on here are checked here, and a bad one is a
 * `400 invalid_request_error`, rendered in the provider's error shape.
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
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('ERR_INVALID_REQUEST', 'The request body must be a JSON object.');
  }
  const {
    anthropic_version: version,
    anthropic_beta: beta,
    model: _model,
    stream: bodyStream,
    ...rest
  } = body as Record<string, unknown>;
  if (typeof version !== 'string' || version === '') {
    throw new GatewayError('ERR_INVALID_REQUEST', 'anthropic_version is required (a string).');
  }
  let betas: string[] = [];
  if (beta !== undefined) {
    if (!Array.isArray(beta) || !beta.every((b) => typeof b === 'string')) {
      throw new GatewayError('ERR_INVALID_REQUEST', 'anthropic_beta must be an array of strings.');
    }
    betas = beta as string[];
  }
  if (!Array.isArray(rest.messages)) {
    throw new GatewayError('ERR_INVALID_REQUEST', 'messages is required (an array).');
  }
  if (!Number.isInteger(rest.max_tokens) || (rest.max_tokens as number) < 1) {
    throw new GatewayError('ERR_INVALID_REQUEST', 'max_tokens is required (a positive integer).');
  }
  // Bedrock has no `stream` member (the operation decides); a stray one is ignored, as is a stray `model`.
  const streaming = stream === 'from-body' ? provider === 'vertex' && bodyStream === true : stream;
  const json: Record<string, unknown> = { model, ...rest, stream: streaming };
  return { json, raw: Buffer.from(JSON.stringify(json), 'utf8'), betas };
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
