/**
 * Upstream kind `vertex`: Anthropic models on Google Vertex AI (config `upstreams[]` with `kind: vertex`).
 *
 * Request in Anthropic shape → Vertex wire shape (protocol-facts §3):
 * - `POST /v1/messages` → `{base}/projects/{p}/locations/{r}/publishers/anthropic/models/{upstreamModel}:rawPredict`,
 *   or `:streamRawPredict` when the body has `stream: true`; the body loses `model` and gains
 *   `anthropic_version: "vertex-2023-10-16"` (`stream` stays); betas stay in `anthropic-beta`.
 * - `POST /v1/messages/count_tokens` → `…/models/count-tokens:rawPredict`, the model staying in the body (as the
 *   target's Vertex model id).
 * - The client's query string (`?beta=true`) has no meaning on Vertex and is dropped, as the SDK drops it.
 * - `Authorization: Bearer` is a Google OAuth2 access token (./auth.ts), never the client's credential.
 *
 * Response → always Anthropic-shaped, so relay.ts relays it unchanged: 2xx JSON and SSE bodies are the undici body
 * itself (never buffered; back-pressure reaches Vertex); error answers are read (bounded) and re-issued as the
 * Anthropic envelope by ./errors.ts, the Google detail (project ids, quota names) going only to the log; a refused
 * gateway credential (UNAUTHENTICATED / PERMISSION_DENIED) is thrown as ERR_UPSTREAM_AUTH (502 `api_error`, and the
 * router's cue to fail over) — never a 401/403 the client would take as its own sign-in failing. One undici
 * Pool per upstream with connect / first-byte / idle timeouts; the request's signal aborts the Vertex call.
 */
import { Readable } from 'node:stream';
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
import { connectionListed, HOP_BY_HOP } from '../headers.ts';
import {
  type AccessToken,
  type AccessTokenSource,
  createAccessTokenSource,
  type VertexAuthConfig,
} from './auth.ts';
import { mapVertexError } from './errors.ts';
import {
  countTokensPath,
  isSafeSegment,
  modelPath,
  REGION,
  rewriteBody,
  VERTEX_ANTHROPIC_VERSION,
  vertexBaseUrl,
} from './request.ts';

export type { AccessToken, AccessTokenSource, VertexAuthConfig } from './auth.ts';
export { CLOUD_PLATFORM_SCOPE, DEFAULT_REFRESH_BEFORE_EXPIRY_MS } from './auth.ts';
export { type MappedError, mapVertexError } from './errors.ts';
export { VERTEX_ANTHROPIC_VERSION, vertexBaseUrl } from './request.ts';

export interface VertexUpstreamConfig {
  name: string;
  kind: 'vertex';
  /** The Google Cloud project that serves the models. */
  projectId: string;
  /** `global`, the multi-regions `us` / `eu`, or a region such as `us-east5`, `europe-west1`. */
  region: string;
  /** Overrides the region's base URL (including `/v1`), e.g. a Private Service Connect endpoint or a mock. */
  baseUrl?: string;
  auth: VertexAuthConfig;
  timeouts: UpstreamTimeouts;
  /** The body's `anthropic_version` (default `vertex-2023-10-16`). */
  anthropicVersion?: string;
}

/** Largest Vertex error body read (for the log and the mapping). */
const MAX_ERROR_BODY = 64 * 1024;

/** Client request headers relayed to Vertex (allow-list). `anthropic-version` is not: Vertex reads the body's. */
const FORWARDED_REQUEST_HEADERS = new Set(['accept', 'anthropic-beta', 'user-agent']);

/** Vertex success-response headers relayed (the rest are Google front-end details). */
const RELAYED_RESPONSE_HEADER =
  /^(content-type|content-encoding|cache-control|request-id|retry-after|retry-after-ms|anthropic-ratelimit-.*)$/;

/** Builds the upstream request headers from the client's `rawHeaders`. */
export function vertexRequestHeaders(rawHeaders: readonly string[], credential: AccessToken): string[] {
  const listed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === 'connection') {
      for (const n of connectionListed(rawHeaders[i + 1])) listed.add(n);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = (rawHeaders[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (FORWARDED_REQUEST_HEADERS.has(lower) || lower.startsWith('x-stainless-')) {
      out.push(lower, rawHeaders[i + 1] as string);
    }
  }
  out.push('content-type', 'application/json', 'authorization', `Bearer ${credential.token}`);
  if (credential.quotaProjectId) out.push('x-goog-user-project', credential.quotaProjectId);
  out.push('accept-encoding', 'identity');
  return out;
}

function relayedHeaders(headers: Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (RELAYED_RESPONSE_HEADER.test(name.toLowerCase())) out[name.toLowerCase()] = value;
  }
  return out;
}

async function readBounded(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function invalid(message: string): GatewayError {
  return new GatewayError('ERR_INVALID_REQUEST', message);
}

/**
 * @example
 * const upstream = createVertexUpstream(
 *   { name: 'vertex-us', kind: 'vertex', projectId: 'acme-ai', region: 'us-east5',
 *     auth: { type: 'service-account', credentialsFile: '/etc/ocg/vertex-sa.json' },
 *     timeouts: { connectMs: 5000, firstByteMs: 60000, idleMs: 120000 } },
 *   logger);
 * await upstream.send({ path: '/v1/messages', search: '', rawHeaders, body, signal,
 *   awaitsWholeAnswer: false, upstreamModel: 'claude-sonnet-4-5@20250929' });
 */
export function createVertexUpstream(
  config: VertexUpstreamConfig,
  logger: Logger,
  tokens: AccessTokenSource = createAccessTokenSource(config.auth, logger.child({ upstream: config.name })),
): Upstream {
  if (!REGION.test(config.region)) {
    throw new GatewayError(
      'ERR_CONFIG_INVALID',
      `upstream ${config.name}: region must be a Vertex location id`,
    );
  }
  if (!isSafeSegment(config.projectId) || config.projectId.includes('/')) {
    throw new GatewayError('ERR_CONFIG_INVALID', `upstream ${config.name}: projectId is not a project id`);
  }
  const base = new URL(config.baseUrl ?? vertexBaseUrl(config.region));
  const prefix = base.pathname.replace(/\/+$/, '');
  const version = config.anthropicVersion ?? VERTEX_ANTHROPIC_VERSION;
  const pool = new Pool(base.origin, {
    connect: { timeout: config.timeouts.connectMs },
    headersTimeout: config.timeouts.firstByteMs,
    bodyTimeout: config.timeouts.idleMs,
    keepAliveTimeout: 30_000,
  });
  const log = logger.child({ upstream: config.name, upstream_kind: 'vertex' });

  /** Vertex path and body for an Anthropic request. */
  function translate(request: UpstreamRequest): { path: string; body: Buffer } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.toString('utf8'));
    } catch {
      throw invalid('The request body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalid('The request body must be a JSON object.');
    }
    const json = parsed as Record<string, unknown>;
    const model = request.upstreamModel ?? json.model;
    if (typeof model !== 'string' || !isSafeSegment(model)) throw invalid('model: a model id is required.');
    try {
      if (request.path === '/v1/messages') {
        const method = json.stream === true ? 'streamRawPredict' : 'rawPredict';
        return {
          path: prefix + modelPath(config.projectId, config.region, model, method),
          body: rewriteBody(request.body, ['model'], { anthropic_version: version }),
        };
      }
      if (request.path === '/v1/messages/count_tokens') {
        return {
          path: prefix + countTokensPath(config.projectId, config.region),
          body: rewriteBody(request.body, [], { model, anthropic_version: version }),
        };
      }
    } catch (err) {
      throw invalid(`The request cannot be sent to Vertex: ${(err as Error).message}.`);
    }
    throw new GatewayError('ERR_NOT_FOUND', `${request.path} is not served by a Vertex upstream.`);
  }

  return {
    name: config.name,
    kind: 'vertex',
    async send(request): Promise<UpstreamResponse> {
      const { path, body } = translate(request);
      const credential = await tokens.token(request.signal);
      let response: Awaited<ReturnType<Pool['request']>>;
      try {
        response = await pool.request({
          method: 'POST',
          path,
          headers: vertexRequestHeaders(request.rawHeaders, credential),
          body,
          signal: request.signal,
          headersTimeout: request.awaitsWholeAnswer
            ? Math.max(config.timeouts.firstByteMs, NON_STREAMING_MIN_FIRST_BYTE_MS)
            : config.timeouts.firstByteMs,
        });
      } catch (err) {
        if (request.signal.aborted) throw err;
        throw mapTransportError(err, log);
      }
      if (response.statusCode < 400) {
        return {
          status: response.statusCode,
          headers: relayedHeaders(response.headers),
          body: response.body,
        };
      }
      let text = '';
      try {
        text = await readBounded(response.body, MAX_ERROR_BODY);
      } catch (err) {
        if (request.signal.aborted) throw err;
        response.body.destroy();
      }
      const retryAfter = response.headers['retry-after'];
      const mapped = mapVertexError(
        response.statusCode,
        text,
        typeof retryAfter === 'string' ? retryAfter : undefined,
      );
      const fields = {
        upstream_status: mapped.detail.upstreamStatus,
        google_status: mapped.detail.googleStatus,
        upstream_error_type: mapped.detail.anthropicType,
        upstream_message: mapped.detail.message,
        client_status: mapped.status,
        client_error_type: mapped.type,
      };
      if (mapped.credential) {
        // Thrown, not answered: the router fails over on ERR_UPSTREAM_AUTH; alone it renders 502 api_error.
        log.error('vertex refused the gateway credential', fields);
        throw new GatewayError('ERR_UPSTREAM_AUTH', 'The gateway could not authenticate with its upstream.');
      }
      log.warn('vertex answered an error', fields);
      const envelope = Buffer.from(
        JSON.stringify({ type: 'error', error: { type: mapped.type, message: mapped.message } }),
      );
      return {
        status: mapped.status,
        headers: {
          'content-type': 'application/json',
          ...(mapped.retryAfter !== undefined ? { 'retry-after': mapped.retryAfter } : {}),
        },
        body: Readable.from([envelope]),
      };
    },
    close: () => pool.close(),
  };
}
