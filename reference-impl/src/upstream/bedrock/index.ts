/**
 * Upstream kind `bedrock`: Anthropic models on the Amazon Bedrock runtime.
 *
 * The client's Anthropic request becomes a Bedrock call (protocol-facts §2):
 * - `POST /v1/messages` → `POST /model/{upstreamModel}/invoke`, or `/invoke-with-response-stream` when the body
 *   says `stream: true`; the model id is path-encoded (`anthropic.claude-…-v1:0` → `…-v1%3A0`).
 * - The body loses `model` and `stream`, gains `anthropic_version: "bedrock-2023-05-31"`, and the client's
 *   `anthropic-beta` header values move into `anthropic_beta: [...]` (Bedrock reads betas from the body only).
 *   Betas the upstream's `betas.drop` names (Bedrock refuses betas it does not know, and Claude Code sends some
 *   only the Claude API has) are left out, and logged at debug. This is the one kind that re-serialises the body:
 *   it has to change it.
 * - Auth: SigV4 (service `bedrock`, the upstream's region) from static keys, from the AWS default provider chain
 *   (environment, shared config, SSO, web identity, ECS/EC2 role — refreshed by the chain before expiry), or a
 *   Bedrock API key as `Authorization: Bearer` without signing. The client's own credentials never go upstream.
 * - `POST /v1/messages/count_tokens` → Bedrock CountTokens (`/model/{id}/count-tokens`, the invoke body base64'd
 *   in `{"input":{"invokeModel":{"body":…}}}`) when `countTokens: true`; otherwise `501 not_supported`, which
 *   Claude Code answers with its `max_tokens: 1` probe (protocol-facts §0).
 *
 * What comes back is Anthropic-shaped, so the router and relay.ts handle it like the anthropic kind: the `invoke`
 * JSON is the Anthropic Message as is; the event stream comes with a decoder (./eventstream.ts) that the router runs
 * on each chunk to get the Anthropic SSE events, frame by frame; Bedrock
 * errors become the Anthropic envelope with the Anthropic-equivalent status and a generic message
 * (./errors.ts), the detail going to the log; a refused gateway credential is `502 api_error` with
 * `x-should-retry: false` (never 401/403: the client's own sign-in is fine). Bedrock's `x-amzn-requestid` is returned as `request-id`, so relay
 * shows it to the client as `upstream-request-id`.
 *
 * Usage: besides the counts in the Anthropic JSON / SSE (which relay records), each response carries
 * {@link BedrockUpstreamResponse.usage}: Bedrock's own counts (`x-amzn-bedrock-*-token-count` headers for invoke,
 * the stream's `amazon-bedrock-invocationMetrics`), final once the body has been consumed.
 */
import { Readable } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { Pool } from 'undici';
import type { UpstreamTimeouts } from '../../config/load.ts';
import { GatewayError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import {
  mapTransportError,
  NON_STREAMING_MIN_FIRST_BYTE_MS,
  type Upstream,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../anthropic.ts';
import { bedrockErrorCode, CREDENTIAL_CODES, GENERIC_MESSAGES, mapBedrockError } from './errors.ts';
import { type BedrockUsage, createEventStreamDecoder } from './eventstream.ts';

export type { BedrockUsage } from './eventstream.ts';

/** The body version Bedrock requires for Anthropic models. */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

export type BedrockAuthConfig =
  | { type: 'sigv4'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { type: 'sigv4-default' }
  | { type: 'api-key'; apiKey: string };

export interface BedrockUpstreamConfig {
  name: string;
  kind: 'bedrock';
  /** AWS region, e.g. `us-east-1`: the signing region and the default host. */
  region: string;
  /** Default `https://bedrock-runtime.<region>.amazonaws.com` (a VPC endpoint or a test mock otherwise). */
  baseUrl?: string;
  auth: BedrockAuthConfig;
  timeouts: UpstreamTimeouts;
  /** Serve `count_tokens` through Bedrock CountTokens (not available in every region); default false → 501. */
  countTokens?: boolean;
  /**
   * Betas never sent to this upstream: exact names, or prefixes ending in `*` (`context-management-*`). Applied to
   * the header's and the body's betas alike.
   */
  betas?: { drop?: readonly string[] };
}

/** What `send` returns: the Anthropic-shaped response plus Bedrock's own accounting. */
export interface BedrockUpstreamResponse extends UpstreamResponse {
  /** Token counts from Bedrock (headers / invocation metrics); complete once `body` has ended. */
  usage: BedrockUsage;
  /** The Bedrock error code of an error answer (e.g. `ThrottlingException`), for routing and the operator. */
  bedrockError?: { code: string | undefined; status: number; credential: boolean };
}

/** Largest Bedrock error body read. */
const MAX_ERROR_BODY = 1024 * 1024;
const STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

/** `@smithy/hash-node`'s Hash bound to SHA-256, the constructor shape SignatureV4 wants (as the AWS SDK does). */
const Sha256 = Hash.bind(null, 'sha256');

type SignerCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];
type CredentialProvider = () => Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}>;

function credentialsFor(auth: BedrockAuthConfig): SignerCredentials | null {
  if (auth.type === 'api-key') return null;
  if (auth.type === 'sigv4') {
    return {
      accessKeyId: auth.accessKeyId,
      secretAccessKey: auth.secretAccessKey,
      ...(auth.sessionToken ? { sessionToken: auth.sessionToken } : {}),
    };
  }
  // Loaded on first use: the chain pulls in the whole AWS credential stack. It memoizes and refreshes itself.
  let provider: CredentialProvider | undefined;
  return async () => {
    if (!provider) {
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      provider = fromNodeProviderChain();
    }
    return provider();
  };
}

function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name) out.push(rawHeaders[i + 1] as string);
  }
  return out;
}

/** The client's `anthropic-beta` values (one header or several, comma-separated), de-duplicated, in order. */
export function betasFrom(rawHeaders: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const value of headerValues(rawHeaders, 'anthropic-beta')) {
    for (const beta of value.split(',')) {
      const b = beta.trim();
      if (b) seen.add(b);
    }
  }
  return [...seen];
}

/** Whether a beta is to be dropped. */
export type BetaFilter = (beta: string) => boolean;

/**
 * The filter for a `betas.drop` list: a name matches itself, a pattern ending in `*` every beta starting with what
 * precedes it (`*` alone: every beta).
 *
 * @example betaDropFilter(['context-management-*', 'oauth-2025-04-20'])('context-management-2025-06-27') // true
 */
export function betaDropFilter(patterns: readonly string[] = []): BetaFilter {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  if (exact.size === 0 && prefixes.length === 0) return () => false;
  return (beta) => exact.has(beta) || prefixes.some((prefix) => beta.startsWith(prefix));
}

/**
 * The Bedrock invoke body for an Anthropic body: without `model` and `stream`, with `anthropic_version` and the
 * header betas merged into `anthropic_beta` (after any the body already had), minus those `drop` matches.
 *
 * @param onDropped called with the betas left out, when there are any
 */
export function toBedrockBody(
  body: Record<string, unknown>,
  betas: readonly string[],
  drop: BetaFilter = () => false,
  onDropped?: (dropped: string[]) => void,
): Record<string, unknown> {
  const { model: _model, stream: _stream, anthropic_version: _version, anthropic_beta, ...rest } = body;
  const merged = new Set<string>(
    Array.isArray(anthropic_beta) ? anthropic_beta.filter((b): b is string => typeof b === 'string') : [],
  );
  for (const b of betas) merged.add(b);
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const b of merged) (drop(b) ? dropped : kept).push(b);
  if (dropped.length > 0) onDropped?.(dropped);
  return {
    anthropic_version: BEDROCK_ANTHROPIC_VERSION,
    ...(kept.length > 0 ? { anthropic_beta: kept } : {}),
    ...rest,
  };
}

function envelope(status: number, type: keyof typeof GENERIC_MESSAGES, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ type: 'error', error: { type, message: GENERIC_MESSAGES[type] } });
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Readable.from([Buffer.from(body)], { objectMode: false }),
  };
}

async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      break;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function intHeader(value: string | string[] | undefined): number | undefined {
  const v = one(value);
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

export function createBedrockUpstream(config: BedrockUpstreamConfig, logger: Logger): Upstream {
  const base = new URL(config.baseUrl ?? `https://bedrock-runtime.${config.region}.amazonaws.com`);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connect: { timeout: config.timeouts.connectMs },
    headersTimeout: config.timeouts.firstByteMs,
    bodyTimeout: config.timeouts.idleMs,
    keepAliveTimeout: 30_000,
  });
  const log = logger.child({ upstream: config.name, upstream_kind: 'bedrock' });
  const credentials = credentialsFor(config.auth);
  const dropBeta = betaDropFilter(config.betas?.drop);
  /** The invoke body for a request, with this upstream's betas dropped (and said so at debug). */
  const invokeBody = (body: Record<string, unknown>, request: UpstreamRequest) =>
    toBedrockBody(body, betasFrom(request.rawHeaders), dropBeta, (dropped) =>
      log.debug('betas dropped for bedrock', { dropped, drop: config.betas?.drop }),
    );
  const signer =
    credentials === null
      ? null
      : new SignatureV4({ service: 'bedrock', region: config.region, credentials, sha256: Sha256 });

  /** Headers for one call: signed with SigV4, or carrying the Bedrock API key. */
  async function authorize(path: string, headers: Record<string, string>, body: Buffer) {
    if (config.auth.type === 'api-key') return { ...headers, authorization: `Bearer ${config.auth.apiKey}` };
    if (!signer) throw new Error('unreachable');
    try {
      const signed = await signer.sign({
        method: 'POST',
        protocol: base.protocol,
        hostname: base.hostname,
        ...(base.port ? { port: Number(base.port) } : {}),
        path,
        query: {},
        headers: { ...headers, host: base.host },
        body,
      });
      return signed.headers as Record<string, string>;
    } catch (err) {
      // Most often: the default provider chain found no credentials (no env, no profile, no role).
      log.error('bedrock credentials could not be resolved', { err });
      throw new GatewayError('ERR_UPSTREAM_AUTH', 'The gateway could not authenticate with its upstream.', {
        cause: err,
      });
    }
  }

  async function call(
    request: UpstreamRequest,
    path: string,
    payload: Buffer,
    accept: Record<string, string>,
  ) {
    const headers = await authorize(
      path,
      { 'content-type': 'application/json', 'accept-encoding': 'identity', ...accept },
      payload,
    );
    try {
      return await pool.request({
        method: 'POST',
        path,
        headers,
        body: payload,
        signal: request.signal,
        headersTimeout: request.awaitsWholeAnswer
          ? Math.max(config.timeouts.firstByteMs, NON_STREAMING_MIN_FIRST_BYTE_MS)
          : config.timeouts.firstByteMs,
      });
    } catch (err) {
      if (request.signal.aborted) throw err;
      throw mapTransportError(err, log);
    }
  }

  /** The Anthropic error answer for a Bedrock error response (detail logged, never returned). */
  async function errorAnswer(
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: Readable,
    usage: BedrockUsage,
  ): Promise<BedrockUpstreamResponse> {
    const text = (await readAll(body, MAX_ERROR_BODY).catch(() => Buffer.alloc(0))).toString('utf8');
    let parsed: Record<string, unknown> | undefined;
    try {
      const p: unknown = JSON.parse(text);
      if (typeof p === 'object' && p !== null && !Array.isArray(p)) parsed = p as Record<string, unknown>;
    } catch {
      // not JSON
    }
    const code = bedrockErrorCode(headers['x-amzn-errortype'], parsed);
    const mapped = mapBedrockError(code, status);
    const requestId = one(headers['x-amzn-requestid']);
    const credential = (code !== undefined && CREDENTIAL_CODES.has(code)) || status === 401 || status === 403;
    const fields = {
      upstream_status: status,
      upstream_error_code: code,
      upstream_message:
        (typeof parsed?.message === 'string' ? parsed.message : undefined) ??
        (typeof parsed?.Message === 'string' ? parsed.Message : undefined) ??
        text.slice(0, 2000),
      upstream_request_id: requestId,
      status: mapped.status,
      type: mapped.type,
    };
    if (credential) log.error('bedrock refused the gateway credential', fields);
    else log.warn('bedrock answered an error', fields);
    const extra: Record<string, string> = {};
    const retryAfter = one(headers['retry-after']);
    if (retryAfter) extra['retry-after'] = retryAfter;
    if (requestId) extra['request-id'] = requestId;
    // A refused gateway credential will be refused again: routing fails over instead of retrying this target
    // (classify: ≥500 + `x-should-retry: false` → failover), and a client that gets it stops retrying at once
    // instead of for minutes (protocol-facts §0, Claude Code honours x-should-retry).
    if (credential) extra['x-should-retry'] = 'false';
    return {
      ...envelope(mapped.status, mapped.type, extra),
      usage,
      bedrockError: { code, status, credential },
    };
  }

  function parseBody(raw: Buffer): Record<string, unknown> {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // falls through
    }
    throw new GatewayError('ERR_INVALID_JSON', 'The request body must be a JSON object.');
  }

  function modelPath(request: UpstreamRequest, body: Record<string, unknown>, action: string): string {
    const model = request.upstreamModel ?? (typeof body.model === 'string' ? body.model : '');
    if (!model) throw new GatewayError('ERR_MODEL_REQUIRED', 'model: Field required');
    return `${prefix}/model/${encodeURIComponent(model)}/${action}`;
  }

  async function countTokens(request: UpstreamRequest): Promise<BedrockUpstreamResponse> {
    const usage: BedrockUsage = {};
    if (!config.countTokens) {
      return { ...envelope(501, 'not_supported'), usage };
    }
    const body = parseBody(request.body);
    const countBody = invokeBody(body, request);
    // CountTokens validates the invoke body as InvokeModel does, which requires max_tokens; the count ignores it.
    if (countBody.max_tokens === undefined) countBody.max_tokens = 1;
    const payload = Buffer.from(
      JSON.stringify({
        input: { invokeModel: { body: Buffer.from(JSON.stringify(countBody)).toString('base64') } },
      }),
    );
    const path = modelPath(request, body, 'count-tokens');
    const response = await call(request, path, payload, { accept: 'application/json' });
    const headers = response.headers as Record<string, string | string[] | undefined>;
    if (response.statusCode >= 300) return errorAnswer(response.statusCode, headers, response.body, usage);
    const text = (await readAll(response.body, MAX_ERROR_BODY)).toString('utf8');
    let inputTokens: unknown;
    try {
      inputTokens = (JSON.parse(text) as { inputTokens?: unknown }).inputTokens;
    } catch {
      // below
    }
    if (typeof inputTokens !== 'number') {
      log.error('bedrock count-tokens answered without inputTokens', { body: text.slice(0, 500) });
      throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream answered in an unexpected shape.');
    }
    usage.inputTokens = inputTokens;
    const requestId = one(headers['x-amzn-requestid']);
    return {
      status: 200,
      headers: { 'content-type': 'application/json', ...(requestId ? { 'request-id': requestId } : {}) },
      body: Readable.from([Buffer.from(JSON.stringify({ input_tokens: inputTokens }))], {
        objectMode: false,
      }),
      usage,
    };
  }

  async function messages(request: UpstreamRequest): Promise<BedrockUpstreamResponse> {
    const body = parseBody(request.body);
    const stream = body.stream === true;
    const path = modelPath(request, body, stream ? 'invoke-with-response-stream' : 'invoke');
    const payload = Buffer.from(JSON.stringify(invokeBody(body, request)));
    const response = await call(
      request,
      path,
      payload,
      stream
        ? { accept: STREAM_CONTENT_TYPE, 'x-amzn-bedrock-accept': 'application/json' }
        : { accept: 'application/json' },
    );
    const headers = response.headers as Record<string, string | string[] | undefined>;
    const usage: BedrockUsage = {};
    if (response.statusCode >= 300) return errorAnswer(response.statusCode, headers, response.body, usage);
    const requestId = one(headers['x-amzn-requestid']);
    const common: Record<string, string> = requestId ? { 'request-id': requestId } : {};
    const contentType = String(one(headers['content-type']) ?? '');
    if (!stream) {
      const input = intHeader(headers['x-amzn-bedrock-input-token-count']);
      const output = intHeader(headers['x-amzn-bedrock-output-token-count']);
      if (input !== undefined) usage.inputTokens = input;
      if (output !== undefined) usage.outputTokens = output;
      const cacheRead = intHeader(headers['x-amzn-bedrock-cache-read-input-token-count']);
      const cacheWrite = intHeader(headers['x-amzn-bedrock-cache-write-input-token-count']);
      if (cacheRead !== undefined) usage.cacheReadInputTokens = cacheRead;
      if (cacheWrite !== undefined) usage.cacheWriteInputTokens = cacheWrite;
      if (input !== undefined || output !== undefined) usage.source = 'headers';
      return {
        status: response.statusCode,
        headers: { 'content-type': contentType || 'application/json', ...common },
        body: response.body,
        usage,
      };
    }
    if (!contentType.toLowerCase().startsWith(STREAM_CONTENT_TYPE)) {
      response.body.destroy();
      log.error('bedrock answered a stream request without an event stream', { content_type: contentType });
      throw new GatewayError('ERR_UPSTREAM_PROTOCOL', 'The upstream answered in an unexpected shape.');
    }
    return {
      status: response.statusCode,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...common },
      body: response.body,
      decoder: createEventStreamDecoder(log, usage),
      usage,
    };
  }

  return {
    name: config.name,
    kind: 'bedrock',
    send(request) {
      return request.path.endsWith('/count_tokens') ? countTokens(request) : messages(request);
    },
    close: () => pool.close(),
  };
}
