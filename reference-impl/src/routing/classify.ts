/**
 * What a failed upstream attempt means for the rest of the request: retry it (same target
 * after a backoff, or the next target), fail over (next target only), or answer the client now.
 *
 * Providers normalise their answers to the Anthropic shape, so one table serves every kind: the HTTP status plus the
 * envelope's `error.type`, or a GatewayError a provider threw before any response (ERR_UPSTREAM_UNREACHABLE,
 * ERR_UPSTREAM_TIMEOUT, …). Serves ROUTING-2 (triggers), ROUTING-3 (non-retryable 4xx answered once), ROUTING-4
 * (`retry-after` / `retry-after-ms`), ROUTING-10 (upstream 401/403 fail over, never reach the client as 401) and
 * ROUTING-11 (generic messages: the upstream's own text can carry account ids, ARNs and project ids).
 */
import { ANTHROPIC_ERROR_TYPES, type AnthropicErrorType, GatewayError } from '../errors.ts';

/**
 * - `retry`: transient; the same target may be tried again after a backoff, and other targets may be tried.
 * - `failover`: this target cannot serve the request (its credential, its feature set); other targets may.
 * - `final`: the request itself is at fault; the client gets this answer once.
 */
export type Disposition = 'retry' | 'failover' | 'final';

export interface Classification {
  disposition: Disposition;
  /** Counts against the target's circuit breaker (a client's bad request does not). */
  breakerFailure: boolean;
  /** What the client gets if this is the last failure: status and Anthropic error type. */
  status: number;
  type: AnthropicErrorType;
  /** The upstream asked for this much quiet (ms) before the next attempt on this target. */
  retryAfterMs?: number;
  /** A short reason for logs and the attempt record (never the upstream's message). */
  reason: string;
}

/** Generic client-facing messages per error type (ROUTING-11); mirrors relay.ts so both paths read the same. */
export const GENERIC_MESSAGES: Record<AnthropicErrorType, string> = {
  invalid_request_error: 'The upstream rejected the request as invalid.',
  authentication_error: 'The upstream rejected the request.',
  permission_error: 'The upstream refused the request.',
  not_found_error: 'The upstream could not find the requested resource.',
  request_too_large: 'The request is too large for the upstream.',
  rate_limit_error: 'The upstream rate limit was reached; retry later.',
  billing_error: 'The upstream refused the request for billing reasons.',
  not_supported: 'The upstream does not support this request.',
  timeout_error: 'The upstream timed out.',
  overloaded_error: 'The upstream is overloaded; retry later.',
  api_error: 'The upstream failed to process the request.',
};

/** SSE `error` event types that mean "try again" when they arrive before any content. */
const RETRYABLE_STREAM_ERRORS: ReadonlySet<string> = new Set([
  'overloaded_error',
  'api_error',
  'rate_limit_error',
  'timeout_error',
]);

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The delay an upstream asked for, in ms: `retry-after-ms` (milliseconds, the SDK's header) wins over `retry-after`
 * (delta-seconds or an HTTP-date, RFC 9110 §10.2.3). Undefined when absent or unreadable; never negative.
 *
 * @param now epoch ms, for HTTP-dates (injectable for tests)
 */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms')?.trim();
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const ra = headerValue(headers, 'retry-after')?.trim();
  if (ra === undefined || ra === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.ceil(Number(ra) * 1000);
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The Anthropic error type of an error body, if it is an envelope naming a known type. */
export function envelopeType(body: string): AnthropicErrorType | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { type?: unknown } };
    const t = parsed?.error?.type;
    return typeof t === 'string' && ANTHROPIC_ERROR_TYPES.has(t) ? (t as AnthropicErrorType) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Classifies an upstream HTTP answer with status ≥ 300.
 *
 * @param status the upstream's HTTP status
 * @param type the envelope's `error.type` (providers normalise to the Anthropic shape), if any
 * @param headers the upstream's response headers (`retry-after`, `retry-after-ms`, `x-should-retry`)
 */
export function classifyStatus(
  status: number,
  type: string | undefined,
  headers: Record<string, string | string[] | undefined> = {},
  now: number = Date.now(),
): Classification {
  const known =
    type !== undefined && ANTHROPIC_ERROR_TYPES.has(type) ? (type as AnthropicErrorType) : undefined;
  const retryAfterMs = parseRetryAfter(headers, now);
  const shouldRetry = headerValue(headers, 'x-should-retry')?.trim().toLowerCase();
  const withRetryAfter = retryAfterMs === undefined ? {} : { retryAfterMs };

  if (status === 401 || status === 403) {
    // The gateway's own upstream credential is wrong: the operator's fault, never the client's (ROUTING-10).
    return {
      disposition: 'failover',
      breakerFailure: true,
      status: 502,
      type: 'api_error',
      reason: `upstream ${status}`,
    };
  }
  if (status === 501) {
    // This target lacks the feature (Bedrock count_tokens): another may have it; the target itself is healthy.
    return {
      disposition: 'failover',
      breakerFailure: false,
      status: 501,
      type: known ?? 'not_supported',
      reason: 'upstream 501',
    };
  }
  if (status === 408 || status === 429 || status === 529 || status >= 500) {
    const fallbackType: AnthropicErrorType =
      status === 429
        ? 'rate_limit_error'
        : status === 529
          ? 'overloaded_error'
          : status === 504 || status === 408
            ? 'timeout_error'
            : 'api_error';
    const clientType: AnthropicErrorType =
      known === undefined || known === 'authentication_error' || known === 'permission_error'
        ? fallbackType
        : known;
    return {
      // `x-should-retry: false` (e.g. an upstream spend cap) rules out this target, not the others.
      disposition: shouldRetry === 'false' || clientType === 'billing_error' ? 'failover' : 'retry',
      breakerFailure: true,
      status: status === 408 ? 504 : status,
      type: clientType,
      ...withRetryAfter,
      reason: `upstream ${status}`,
    };
  }
  if (status >= 400) {
    const t: AnthropicErrorType =
      known === undefined || known === 'authentication_error' || known === 'permission_error'
        ? status === 404
          ? 'not_found_error'
          : status === 413
            ? 'request_too_large'
            : 'invalid_request_error'
        : known;
    return { disposition: 'final', breakerFailure: false, status, type: t, reason: `upstream ${status}` };
  }
  // 1xx/3xx: not something a Messages API answers; treat the target as broken.
  return {
    disposition: 'retry',
    breakerFailure: true,
    status: 502,
    type: 'api_error',
    reason: `upstream ${status}`,
  };
}

/** Classifies an error thrown by `Upstream.send` (before any response) or raised while reading a body. */
export function classifyThrown(err: unknown): Classification {
  if (err instanceof GatewayError) {
    switch (err.code) {
      case 'ERR_UPSTREAM_TIMEOUT':
        return {
          disposition: 'retry',
          breakerFailure: true,
          status: 504,
          type: 'api_error',
          reason: 'upstream timeout',
        };
      case 'ERR_UPSTREAM_UNREACHABLE':
      case 'ERR_UPSTREAM_PROTOCOL':
        return {
          disposition: 'retry',
          breakerFailure: true,
          status: 502,
          type: 'api_error',
          reason: 'upstream unreachable',
        };
      case 'ERR_UPSTREAM_AUTH':
        return {
          disposition: 'failover',
          breakerFailure: true,
          status: 502,
          type: 'api_error',
          reason: 'upstream auth',
        };
      case 'ERR_UPSTREAM_STATUS':
        return classifyStatus(err.status, err.type, err.headers);
      default:
        // A provider refusing the request itself (e.g. a body it cannot translate): the client's answer.
        if (err.status < 500)
          return {
            disposition: 'final',
            breakerFailure: false,
            status: err.status,
            type: err.type,
            reason: err.code,
          };
        return {
          disposition: 'retry',
          breakerFailure: true,
          status: 502,
          type: 'api_error',
          reason: err.code,
        };
    }
  }
  // Socket errors and the like that escaped a provider's mapping.
  return {
    disposition: 'retry',
    breakerFailure: true,
    status: 502,
    type: 'api_error',
    reason: 'upstream failed',
  };
}

/** Classifies an SSE `error` event that arrived before any content was released to the client. */
export function classifyStreamError(type: string | undefined): Classification {
  const t =
    type !== undefined && ANTHROPIC_ERROR_TYPES.has(type) ? (type as AnthropicErrorType) : 'api_error';
  if (RETRYABLE_STREAM_ERRORS.has(t)) {
    return {
      disposition: 'retry',
      breakerFailure: true,
      status: t === 'overloaded_error' ? 529 : t === 'rate_limit_error' ? 429 : 502,
      type: t,
      reason: `stream error ${t}`,
    };
  }
  return { disposition: 'final', breakerFailure: false, status: 400, type: t, reason: `stream error ${t}` };
}

/** The client-facing error for a classification (generic message, retry headers kept so client logic works). */
export function clientError(
  c: Classification,
  retryAfterMs?: number,
  extraHeaders: Record<string, string> = {},
): GatewayError {
  const headers: Record<string, string> = { ...extraHeaders };
  const ra = retryAfterMs ?? c.retryAfterMs;
  if (ra !== undefined && (c.status === 429 || c.status === 529 || c.status === 503)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(ra / 1000)));
  }
  return new GatewayError('ERR_UPSTREAM_STATUS', GENERIC_MESSAGES[c.type] ?? 'The upstream failed.', {
    status: c.status,
    type: c.type,
    headers,
  });
}
