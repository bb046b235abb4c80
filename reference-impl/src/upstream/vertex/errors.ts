/**
 * Vertex error answers → the Anthropic error envelope.
 *
 * Vertex answers platform errors in the Google envelope `{"error":{"code","message","status"}}` and passes the
 * model's own errors through in the Anthropic envelope (protocol-facts §3). The client always gets an Anthropic
 * envelope with an Anthropic-equivalent status, so its retry logic (and relay.ts) works unchanged:
 *
 * | Google status (HTTP)                              | client                     |
 * |---------------------------------------------------|----------------------------|
 * | RESOURCE_EXHAUSTED (429)                          | 429 rate_limit_error       |
 * | UNAVAILABLE (503)                                 | 503 api_error; 529 overloaded_error when it says overloaded |
 * | INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE (400) | 400 invalid_request_error |
 * | NOT_FOUND (404)                                   | 404 not_found_error        |
 * | UNAUTHENTICATED (401), PERMISSION_DENIED (403)    | 502 api_error              |
 * | DEADLINE_EXCEEDED (504)                           | 504 timeout_error          |
 * | UNIMPLEMENTED (501)                               | 501 not_supported          |
 * | ABORTED (409)                                     | 503 api_error (transient)  |
 * | INTERNAL, UNKNOWN, DATA_LOSS, CANCELLED (5xx)     | 500 / 502 api_error        |
 *
 * UNAUTHENTICATED / PERMISSION_DENIED are the operator's credential or IAM problem, never the client's: a 401 would
 * make Claude Code sign the user out (or retry for minutes), so they become 502 `api_error` (ERRORS-6). Google
 * messages name projects, quotas and resources: the client gets a generic message; the detail is returned for the
 * operator's log. `retry-after` comes from the upstream's header or from a `google.rpc.RetryInfo` detail.
 */
import type { AnthropicErrorType } from '../../errors.ts';
import { ANTHROPIC_ERROR_TYPES } from '../../errors.ts';

export interface MappedError {
  status: number;
  type: AnthropicErrorType;
  /** The generic client-facing message. */
  message: string;
  /**
   * The upstream refused the gateway's own credential (UNAUTHENTICATED, PERMISSION_DENIED, HTTP 401/403): the
   * operator's problem, which another target may not have (the router fails over on ERR_UPSTREAM_AUTH).
   */
  credential: boolean;
  /** Seconds, when the upstream said when to retry. */
  retryAfter?: string;
  /** For the log only: what the upstream said. */
  detail: { upstreamStatus: number; googleStatus?: string; anthropicType?: string; message?: string };
}

const GENERIC: Record<AnthropicErrorType, string> = {
  invalid_request_error: 'The upstream rejected the request as invalid.',
  authentication_error: 'The upstream rejected the request.',
  permission_error: 'The upstream refused the request.',
  not_found_error: 'The upstream could not find the requested model or resource.',
  request_too_large: 'The request is too large for the upstream.',
  rate_limit_error: 'The upstream rate limit or quota was reached; retry later.',
  billing_error: 'The upstream refused the request for billing reasons.',
  not_supported: 'The upstream does not support this request.',
  timeout_error: 'The upstream timed out.',
  overloaded_error: 'The upstream is overloaded; retry later.',
  api_error: 'The upstream failed to process the request.',
};

const BY_GOOGLE_STATUS: Record<string, { status: number; type: AnthropicErrorType }> = {
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error' },
  FAILED_PRECONDITION: { status: 400, type: 'invalid_request_error' },
  OUT_OF_RANGE: { status: 400, type: 'invalid_request_error' },
  ALREADY_EXISTS: { status: 400, type: 'invalid_request_error' },
  UNAUTHENTICATED: { status: 502, type: 'api_error' },
  PERMISSION_DENIED: { status: 502, type: 'api_error' },
  NOT_FOUND: { status: 404, type: 'not_found_error' },
  RESOURCE_EXHAUSTED: { status: 429, type: 'rate_limit_error' },
  UNAVAILABLE: { status: 503, type: 'api_error' },
  ABORTED: { status: 503, type: 'api_error' },
  DEADLINE_EXCEEDED: { status: 504, type: 'timeout_error' },
  UNIMPLEMENTED: { status: 501, type: 'not_supported' },
  INTERNAL: { status: 500, type: 'api_error' },
  UNKNOWN: { status: 500, type: 'api_error' },
  DATA_LOSS: { status: 500, type: 'api_error' },
  CANCELLED: { status: 502, type: 'api_error' },
};

/** The mapping by HTTP status alone (no readable envelope: an HTML page from a front end, an empty body). */
function byHttpStatus(status: number): { status: number; type: AnthropicErrorType } {
  switch (status) {
    case 400:
      return BY_GOOGLE_STATUS.INVALID_ARGUMENT as { status: number; type: AnthropicErrorType };
    case 401:
    case 403:
      return { status: 502, type: 'api_error' };
    case 404:
      return { status: 404, type: 'not_found_error' };
    case 408:
      return { status: 504, type: 'timeout_error' };
    case 413:
      return { status: 413, type: 'request_too_large' };
    case 429:
      return { status: 429, type: 'rate_limit_error' };
    case 501:
      return { status: 501, type: 'not_supported' };
    case 503:
      return { status: 503, type: 'api_error' };
    case 504:
      return { status: 504, type: 'timeout_error' };
    case 529:
      return { status: 529, type: 'overloaded_error' };
    default:
      return status >= 500
        ? { status: 502, type: 'api_error' }
        : { status: 400, type: 'invalid_request_error' };
  }
}

interface GoogleEnvelope {
  error?: { code?: unknown; message?: unknown; status?: unknown; details?: unknown; type?: unknown };
  type?: unknown;
}

/** Seconds from a `google.rpc.RetryInfo` detail (`"retryDelay": "30s"` / `"1.500s"`), rounded up. */
function retryInfoSeconds(details: unknown): string | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const delay = (d as { '@type'?: unknown; retryDelay?: unknown } | null)?.retryDelay;
    if (
      typeof delay === 'string' &&
      String((d as { '@type'?: unknown })['@type']).endsWith('google.rpc.RetryInfo') &&
      /^\d+(\.\d+)?s$/.test(delay)
    ) {
      return String(Math.max(1, Math.ceil(Number.parseFloat(delay))));
    }
  }
  return undefined;
}

/** Maps a Vertex error answer (status, body text, retry-after header) to the client's Anthropic error. */
export function mapVertexError(status: number, bodyText: string, retryAfterHeader?: string): MappedError {
  let parsed: GoogleEnvelope | undefined;
  try {
    const value: unknown = JSON.parse(bodyText);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      parsed = value as GoogleEnvelope;
  } catch {
    // not JSON: mapped by status
  }
  const e = parsed?.error;
  const upstreamMessage = typeof e?.message === 'string' ? e.message : bodyText.slice(0, 2000) || undefined;
  let mapped: { status: number; type: AnthropicErrorType };
  const detail: MappedError['detail'] = { upstreamStatus: status, message: upstreamMessage };
  let retryAfter = retryAfterHeader;

  if (parsed?.type === 'error' && typeof e?.type === 'string') {
    // The model's own error in the Anthropic envelope: keep its type (the client's retry logic reads it).
    detail.anthropicType = e.type;
    const known = ANTHROPIC_ERROR_TYPES.has(e.type) ? (e.type as AnthropicErrorType) : undefined;
    if (
      status === 401 ||
      status === 403 ||
      known === 'authentication_error' ||
      known === 'permission_error'
    ) {
      mapped = { status: 502, type: 'api_error' };
    } else if (known) {
      mapped = { status: status >= 400 ? status : 500, type: known };
    } else {
      mapped = byHttpStatus(status);
    }
  } else if (typeof e?.status === 'string' && BY_GOOGLE_STATUS[e.status]) {
    detail.googleStatus = e.status;
    mapped = BY_GOOGLE_STATUS[e.status] as { status: number; type: AnthropicErrorType };
    if (e.status === 'UNAVAILABLE' && /overload|capacity/i.test(upstreamMessage ?? '')) {
      mapped = { status: 529, type: 'overloaded_error' };
    }
    retryAfter ??= retryInfoSeconds(e.details);
  } else {
    if (typeof e?.status === 'string') detail.googleStatus = e.status;
    mapped = byHttpStatus(typeof e?.code === 'number' ? e.code : status);
    retryAfter ??= retryInfoSeconds(e?.details);
  }
  const retryable = mapped.status === 429 || mapped.status >= 500;
  const credential =
    status === 401 ||
    status === 403 ||
    detail.googleStatus === 'UNAUTHENTICATED' ||
    detail.googleStatus === 'PERMISSION_DENIED' ||
    detail.anthropicType === 'authentication_error' ||
    detail.anthropicType === 'permission_error';
  return {
    ...mapped,
    credential,
    message: GENERIC[mapped.type],
    ...(retryable && retryAfter !== undefined ? { retryAfter } : {}),
    detail,
  };
}
