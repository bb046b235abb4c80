/**
 * The gateway's one error class. Every failure the gateway knows about carries a stable string `code`; HTTP-facing
 * errors also carry the status and the Anthropic error `type` and render the protocol's error envelope themselves.
 *
 * Serves ERRORS-1 (Anthropic envelope with `request_id` on every bearer-endpoint error) and ERRORS-6 (upstream
 * failures are 5xx `api_error` / `529 overloaded_error`, never 401).
 */
import type { components } from './generated/openapi.ts';

export type ErrorResponse = components['schemas']['ErrorResponse'];

/** Error types of the Anthropic error envelope that the gateway emits or relays. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'not_supported'
  | 'overloaded_error';

export const ANTHROPIC_ERROR_TYPES: ReadonlySet<string> = new Set<AnthropicErrorType>([
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'timeout_error',
  'not_supported',
  'overloaded_error',
]);

export type GatewayErrorCode =
  // boot
  | 'ERR_CONFIG_INVALID'
  | 'ERR_UNBOUND_OPERATION'
  | 'ERR_UNKNOWN_OPERATION'
  | 'ERR_MIGRATION_CHECKSUM'
  | 'ERR_MIGRATION_FAILED'
  | 'ERR_STORE_UNAVAILABLE'
  // request
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_LENGTH_REQUIRED'
  | 'ERR_INVALID_JSON'
  | 'ERR_INVALID_REQUEST'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_INTERNAL'
  // model allowlist and /v1/models paging (src/policy)
  | 'ERR_MODEL_REQUIRED'
  | 'ERR_MODEL_UNKNOWN'
  | 'ERR_MODEL_DENIED'
  | 'ERR_NO_POLICY'
  // upstream
  | 'ERR_UPSTREAM_UNREACHABLE'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_UPSTREAM_AUTH'
  | 'ERR_UPSTREAM_STATUS'
  | 'ERR_UPSTREAM_PROTOCOL'
  // sessions and tokens (src/session)
  | 'ERR_KEK_MISMATCH'
  | 'ERR_DECRYPTION_FAILED'
  | 'ERR_INVALID_GRANT'
  // OAuth endpoints (rendered as RFC 6749 error objects; the status comes with the oauth code)
  | 'ERR_OAUTH'
  // admin
  | 'ERR_FORBIDDEN';

interface Defaults {
  status: number;
  type: AnthropicErrorType;
}

const DEFAULTS: Record<GatewayErrorCode, Defaults> = {
  ERR_CONFIG_INVALID: { status: 500, type: 'api_error' },
  ERR_UNBOUND_OPERATION: { status: 500, type: 'api_error' },
  ERR_UNKNOWN_OPERATION: { status: 500, type: 'api_error' },
  ERR_MIGRATION_CHECKSUM: { status: 500, type: 'api_error' },
  ERR_MIGRATION_FAILED: { status: 500, type: 'api_error' },
  ERR_STORE_UNAVAILABLE: { status: 503, type: 'api_error' },
  ERR_NOT_FOUND: { status: 404, type: 'not_found_error' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, type: 'invalid_request_error' },
  ERR_BODY_TOO_LARGE: { status: 413, type: 'request_too_large' },
  ERR_LENGTH_REQUIRED: { status: 411, type: 'invalid_request_error' },
  ERR_INVALID_JSON: { status: 400, type: 'invalid_request_error' },
  ERR_INVALID_REQUEST: { status: 400, type: 'invalid_request_error' },
  ERR_UNAUTHENTICATED: { status: 401, type: 'authentication_error' },
  ERR_SHUTTING_DOWN: { status: 503, type: 'api_error' },
  ERR_INTERNAL: { status: 500, type: 'api_error' },
  ERR_MODEL_REQUIRED: { status: 400, type: 'invalid_request_error' },
  ERR_MODEL_UNKNOWN: { status: 400, type: 'invalid_request_error' },
  ERR_MODEL_DENIED: { status: 400, type: 'invalid_request_error' },
  ERR_NO_POLICY: { status: 400, type: 'invalid_request_error' },
  ERR_UPSTREAM_UNREACHABLE: { status: 502, type: 'api_error' },
  ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error' },
  ERR_UPSTREAM_AUTH: { status: 502, type: 'api_error' },
  ERR_UPSTREAM_STATUS: { status: 502, type: 'api_error' },
  ERR_UPSTREAM_PROTOCOL: { status: 502, type: 'api_error' },
  ERR_KEK_MISMATCH: { status: 500, type: 'api_error' },
  ERR_DECRYPTION_FAILED: { status: 500, type: 'api_error' },
  // The OAuth token endpoint renders its own `{"error":"invalid_grant"}` body with this status.
  ERR_INVALID_GRANT: { status: 401, type: 'authentication_error' },
  ERR_OAUTH: { status: 400, type: 'invalid_request_error' },
  ERR_FORBIDDEN: { status: 403, type: 'permission_error' },
};

/** RFC 6749 §5.2 / RFC 8628 §3.5 / RFC 7009 error codes the OAuth endpoints answer. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable';

export interface GatewayErrorOptions {
  /** Overrides the code's default HTTP status (e.g. a relayed upstream status). */
  status?: number;
  /** Overrides the code's default Anthropic error type (e.g. a relayed upstream `error.type`). */
  type?: AnthropicErrorType;
  /** Extra response headers (e.g. `allow`, `retry-after`, `www-authenticate`). */
  headers?: Record<string, string>;
  /** Individual problems behind the error (e.g. one line per invalid config field); never secret values. */
  details?: string[];
  /**
   * An RFC 6749 error code (`invalid_request`, `invalid_grant`, …): the error renders as an OAuth error object
   * `{"error", "error_description"}` (OAuth endpoints) instead of the Anthropic envelope.
   */
  oauth?: OAuthErrorCode;
  cause?: unknown;
}

/**
 * @example
 * throw new GatewayError('ERR_UNAUTHENTICATED', 'Invalid bearer token.');
 * // → 401 {"type":"error","error":{"type":"authentication_error","message":"Invalid bearer token."},"request_id":…}
 */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly headers: Record<string, string>;
  readonly details: readonly string[];
  readonly oauth: OAuthErrorCode | null;

  constructor(code: GatewayErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? DEFAULTS[code].status;
    this.type = options.type ?? DEFAULTS[code].type;
    this.headers = options.headers ?? {};
    this.details = options.details ?? [];
    this.oauth = options.oauth ?? null;
  }

  /** The Anthropic error envelope for this error. The message is meant for the client: never put secrets in it. */
  toEnvelope(requestId: string): ErrorResponse {
    return { type: 'error', error: { type: this.type, message: this.message }, request_id: requestId };
  }

  /** Status, headers and serialised body of the HTTP response for this error. */
  render(requestId: string): { status: number; headers: Record<string, string>; body: string } {
    const body = JSON.stringify(
      this.oauth === null
        ? this.toEnvelope(requestId)
        : { error: this.oauth, error_description: this.message },
    );
    return {
      status: this.status,
      headers: {
        ...(this.oauth === null ? {} : { 'cache-control': 'no-store', pragma: 'no-cache' }),
        ...this.headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    };
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
