/**
 * The request pipeline on `node:http`: request id → route → authenticate (bearer operations) → read, parse and
 * validate the body (POST operations) → handler → error envelope. One access-log line and, for inference operations,
 * one `inference_requests` row per request.
 *
 * Serves ERRORS-1 (envelope on every error), ERRORS-2 (`request-id` on every response, including 404s and
 * malformed requests), ERRORS-3/4/5 (body checks before the upstream is touched) and INFERENCE-9 (a client
 * disconnect aborts the request's signal, which aborts the upstream request).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SpecValidators } from '@ocg/spec';
import type { Authenticator } from '../auth/authenticate.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Principal } from '../session/principal.ts';
import type { InferenceRecorder } from '../store/inference-log.ts';
import { ClientGoneError, parseJsonBody, readBody } from './body.ts';
import type { AdminIdentity, Handler, RequestContext, RequestFacts } from './context.ts';
import { newRequestId } from './request-id.ts';
import type { Router } from './router.ts';

/** Authenticates an admin operation (`security: admin`); throws 401 / 403 `GatewayError`s. */
export type AdminAuthenticator = (
  headers: IncomingMessage['headers'],
  scope: 'read' | 'write',
) => Promise<{ admin: AdminIdentity; principal: Principal | null }>;

export interface PipelineDeps {
  router: Router;
  authenticator: Authenticator;
  authenticateAdmin: AdminAuthenticator;
  validators: SpecValidators;
  logger: Logger;
  maxRequestBodyBytes: number;
  recorder: InferenceRecorder;
  /** operationIds whose requests are recorded in `inference_requests`. */
  recordedOperations: ReadonlySet<string>;
  isDraining(): boolean;
  /**
   * Operations that answer errors in another protocol's shape (the Bedrock and Vertex pass-through surfaces), by
   * operationId; the rest use `GatewayError.render`. Also applies to failures found before the handler runs.
   */
  errorRenderers?: Readonly<
    Record<string, (err: GatewayError, requestId: string) => ReturnType<GatewayError['render']>>
  >;
}

export interface InFlight {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

export interface Pipeline {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onClientError(err: Error & { code?: string }, socket: Duplex): void;
  /** Requests being served right now (graceful shutdown waits for them). */
  readonly inFlight: ReadonlySet<InFlight>;
}

const BASE = 'http://gateway.invalid';
/** Unread request bodies up to this size are drained to keep the connection alive; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;

function bodyTooCostlyToDrain(req: IncomingMessage, err: GatewayError): boolean {
  if (err.code === 'ERR_BODY_TOO_LARGE' || err.code === 'ERR_LENGTH_REQUIRED') return true;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return Number(req.headers['content-length'] ?? 0) > DRAIN_LIMIT;
}

/** How much of an unwanted body we discard, and for how long, before cutting the connection. */
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 10_000;

/**
 * A body we refuse without reading (too large, chunked): answer first, then read and discard what the client is
 * still sending. Closing a socket with unread input makes the kernel send a TCP reset, which can destroy our 413
 * in the client's receive buffer before it reads it ("lingering close", as nginx and Apache do). The discarding is
 * bounded in bytes and time; past either bound the connection is cut. Nothing is held in memory.
 */
function lingerAndDiscard(req: IncomingMessage): void {
  let discarded = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) cut();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * A form body (RFC 6749 §4.1.3 / RFC 8628 §3.1 requests). An empty body is an empty form (Claude Code posts one to
 * the device authorization endpoint); a body of another type is `400 invalid_request`.
 */
function parseFormBody(req: IncomingMessage, raw: Buffer): URLSearchParams {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (raw.length > 0 && type !== FORM) {
    throw new GatewayError('ERR_OAUTH', `The request body must be ${FORM}.`, { oauth: 'invalid_request' });
  }
  return new URLSearchParams(raw.toString('utf8'));
}

/** The OAuth endpoints answer RFC 6749 error objects, also for failures found before their handler runs. */
function speaksOAuth(path: string): boolean {
  return path.startsWith('/oauth/') && path !== '/oauth/callback';
}

function asOAuthError(err: GatewayError): GatewayError {
  const oauth = err.status >= 500 ? 'server_error' : 'invalid_request';
  return new GatewayError(err.code, err.message, {
    status: err.status,
    headers: err.headers,
    oauth,
    cause: err,
  });
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const inFlight = new Set<InFlight>();
  const { logger } = deps;

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const requestId = newRequestId();
    const startedAt = new Date();
    const t0 = performance.now();
    res.setHeader('request-id', requestId);
    if (deps.isDraining()) res.setHeader('connection', 'close');

    const controller = new AbortController();
    let resolveDone: () => void = () => {};
    const entry: InFlight = { controller, done: new Promise<void>((r) => (resolveDone = r)) };
    inFlight.add(entry);

    const log = logger.child({ request_id: requestId });
    // A client that goes away mid-request surfaces as an error on req/res; nothing to answer, never a crash.
    req.on('error', (err) => log.debug('client request stream error', { err }));
    res.on('error', (err) => log.debug('client response stream error', { err }));

    let url: URL;
    try {
      url = new URL(req.url ?? '/', BASE);
    } catch {
      url = new URL('/', BASE);
    }
    const method = req.method ?? 'GET';
    const match = deps.router.match(method, url.pathname);
    const operation = match.kind === 'found' ? match.operation : null;
    const params = match.kind === 'found' ? match.params : {};
    const facts: RequestFacts = {};
    let principalSubject: string | null = null;

    res.on('close', () => {
      if (!res.writableFinished) {
        controller.abort();
        facts.errorType ??= 'client_closed';
      }
      inFlight.delete(entry);
      resolveDone();
      const durationMs = performance.now() - t0;
      log.info('request', {
        method,
        path: url.pathname,
        status: res.statusCode,
        duration_ms: Math.round(durationMs),
        subject: principalSubject,
        operation: operation?.operationId ?? null,
        ...(facts.errorType ? { error_type: facts.errorType } : {}),
      });
      if (operation && deps.recordedOperations.has(operation.operationId)) {
        deps.recorder.record({
          requestId,
          subject: principalSubject,
          model: facts.model ?? null,
          stream: facts.stream ?? null,
          upstream: facts.upstream ?? null,
          upstreamModel: facts.upstreamModel ?? null,
          status: res.statusCode,
          errorType: facts.errorType ?? null,
          startedAt,
          durationMs,
          inputTokens: facts.inputTokens ?? null,
          outputTokens: facts.outputTokens ?? null,
        });
      }
    });

    if (match.kind === 'not-found') {
      sendError(
        req,
        res,
        requestId,
        new GatewayError('ERR_NOT_FOUND', `No route for ${method} ${url.pathname}.`),
      );
      return;
    }
    if (match.kind === 'method-not-allowed') {
      const err = new GatewayError(
        'ERR_METHOD_NOT_ALLOWED',
        `Method ${method} is not allowed on ${url.pathname}.`,
        {
          headers: { allow: match.allow.join(', ') },
        },
      );
      sendError(req, res, requestId, err);
      return;
    }

    const ctx: RequestContext = {
      requestId,
      req,
      res,
      operation: match.operation,
      url,
      startedAt,
      signal: controller.signal,
      logger: log,
      principal: null,
      admin: null,
      params,
      body: null,
      facts,
    };
    void serve(ctx, match.handler, (subject) => {
      principalSubject = subject;
    });
  }

  async function serve(
    ctx: RequestContext,
    handler: Handler,
    setSubject: (s: string) => void,
  ): Promise<void> {
    const { req, operation } = ctx;
    try {
      if (operation.security === 'bearer') {
        ctx.principal = await deps.authenticator.authenticate(req.headers);
        setSubject(ctx.principal.subject);
      } else if (operation.security === 'admin') {
        const { admin, principal } = await deps.authenticateAdmin(
          req.headers,
          operation.adminScope ?? 'write',
        );
        ctx.admin = admin;
        ctx.principal = principal;
        setSubject(admin.subject ?? `api_key:${admin.keyId ?? '?'}`);
      }
      if (operation.method === 'post' || operation.method === 'put' || operation.method === 'patch') {
        const raw = await readBody(req, deps.maxRequestBodyBytes);
        if (operation.requestContentType === 'application/x-www-form-urlencoded') {
          ctx.body = { raw, json: null, form: parseFormBody(req, raw) };
        } else if (operation.requestContentType === undefined) {
          // No body declared (e.g. POST …/revoke): whatever was sent is read and ignored.
          ctx.body = null;
        } else {
          const json = parseJsonBody(raw);
          if (
            typeof json === 'object' &&
            json !== null &&
            typeof (json as { model?: unknown }).model === 'string'
          ) {
            ctx.facts.model = (json as { model: string }).model;
          }
          const problems = deps.validators.validateRequestBody(operation.operationId, json);
          if (problems.length > 0) {
            throw new GatewayError('ERR_INVALID_REQUEST', `Invalid request body: ${problems.join('; ')}`, {
              details: problems,
            });
          }
          ctx.body = { raw, json, form: null };
        }
      }
      await handler(ctx);
    } catch (err) {
      handleError(ctx, err);
    }
  }

  function handleError(ctx: RequestContext, err: unknown): void {
    const { res, req } = ctx;
    if (ctx.signal.aborted && isGatewayError(ctx.signal.reason) && !res.destroyed) {
      // Aborted by a forced shutdown while the client is still there: tell it so it can retry elsewhere.
      err = ctx.signal.reason;
    } else if (err instanceof ClientGoneError || (ctx.signal.aborted && !isGatewayError(err))) {
      ctx.facts.errorType ??= 'client_closed';
      ctx.logger.debug('client went away', { err });
      return;
    }
    let gatewayError: GatewayError;
    if (isGatewayError(err)) {
      gatewayError = err;
      if (err.status >= 500) ctx.logger.warn('request failed', { code: err.code, status: err.status, err });
    } else {
      ctx.logger.error('unexpected error while serving a request', { err });
      gatewayError = new GatewayError('ERR_INTERNAL', 'Internal gateway error.', { cause: err });
    }
    if (gatewayError.oauth === null && speaksOAuth(ctx.operation.path))
      gatewayError = asOAuthError(gatewayError);
    ctx.facts.errorType = gatewayError.type;
    if (res.headersSent) {
      // Mid-response: the status is gone; cutting the connection is the only honest signal left.
      if (!res.writableEnded) res.destroy();
      return;
    }
    sendError(req, res, ctx.requestId, gatewayError, deps.errorRenderers?.[ctx.operation.operationId]);
  }

  function sendError(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    err: GatewayError,
    render?: (err: GatewayError, requestId: string) => ReturnType<GatewayError['render']>,
  ): void {
    const rendered = render ? render(err, requestId) : err.render(requestId);
    if (!req.complete && bodyTooCostlyToDrain(req, err)) lingerAndDiscard(req);
    res.writeHead(rendered.status, rendered.headers);
    res.end(rendered.body);
  }

  /** Malformed HTTP never reaches `onRequest`; answer it with an envelope and a request id anyway. */
  function onClientError(err: Error & { code?: string }, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const requestId = newRequestId();
    const [status, reason, type] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'invalid_request_error']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'invalid_request_error']
          : [400, 'Bad Request', 'invalid_request_error'];
    const body = JSON.stringify({
      type: 'error',
      error: { type, message: 'Malformed HTTP request.' },
      request_id: requestId,
    });
    logger.debug('malformed request', { request_id: requestId, code: err.code });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nrequest-id: ${requestId}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  return { onRequest, onClientError, inFlight };
}
