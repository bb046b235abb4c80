/**
 * Bedrock error codes → Anthropic error types and statuses.
 *
 * Bedrock names an error in the `x-amzn-ErrorType` header (then body `code`, then body `__type`), e.g.
 * `ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`; the code is the part before `:` and
 * after `#` (aws-sdk-js-v3 `loadRestJsonErrorCode`, protocol-facts §2). Clients of the gateway speak the Anthropic
 * protocol, so each code becomes the status and `error.type` an Anthropic client reacts to the same way: throttling
 * is retried as a 429, a credential problem of the gateway's own AWS identity is an operator fault (502 `api_error`,
 * never 401/403, which would make Claude Code sign the user out or retry a "bad login" for minutes).
 * The upstream's message can carry account ids and ARNs: it is logged, the client gets a generic message.
 */
import type { AnthropicErrorType } from '../../errors.ts';

export interface MappedError {
  status: number;
  type: AnthropicErrorType;
}

/** Why each entry is what it is: see the module header and protocol-facts §2 "Errors". */
const BY_CODE: Record<string, MappedError> = {
  ValidationException: { status: 400, type: 'invalid_request_error' },
  ConflictException: { status: 400, type: 'invalid_request_error' },
  // "You can resubmit your request later": an account quota, retried like a rate limit.
  ServiceQuotaExceededException: { status: 429, type: 'rate_limit_error' },
  ThrottlingException: { status: 429, type: 'rate_limit_error' },
  TooManyRequestsException: { status: 429, type: 'rate_limit_error' },
  // Capacity: Anthropic's equivalent is 529 overloaded_error (Claude Code may switch to its fallback model).
  ServiceUnavailableException: { status: 529, type: 'overloaded_error' },
  // The model is being loaded: transient, retryable, but not "overloaded".
  ModelNotReadyException: { status: 503, type: 'api_error' },
  InternalServerException: { status: 500, type: 'api_error' },
  ModelErrorException: { status: 500, type: 'api_error' },
  ModelStreamErrorException: { status: 500, type: 'api_error' },
  ModelTimeoutException: { status: 504, type: 'timeout_error' },
  ResourceNotFoundException: { status: 404, type: 'not_found_error' },
  // The gateway's own AWS credential is wrong, expired or not allowed: the operator's problem (ERRORS-6).
  AccessDeniedException: { status: 502, type: 'api_error' },
  UnrecognizedClientException: { status: 502, type: 'api_error' },
  InvalidSignatureException: { status: 502, type: 'api_error' },
  IncompleteSignatureException: { status: 502, type: 'api_error' },
  MissingAuthenticationTokenException: { status: 502, type: 'api_error' },
  ExpiredTokenException: { status: 502, type: 'api_error' },
  InvalidClientTokenId: { status: 502, type: 'api_error' },
  UnauthorizedException: { status: 502, type: 'api_error' },
};

/** Codes that mean "the gateway's upstream credential was refused" (for routing: fail over, operator alert). */
export const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnauthorizedException',
]);

/** `:exception-type` of a mid-stream exception frame (camel-cased) → the SSE `error` event's type. */
const STREAM_EXCEPTION_TYPES: Record<string, AnthropicErrorType> = {
  throttlingException: 'rate_limit_error',
  serviceUnavailableException: 'overloaded_error',
  modelNotReadyException: 'api_error',
  internalServerException: 'api_error',
  modelStreamErrorException: 'api_error',
  modelTimeoutException: 'timeout_error',
  validationException: 'invalid_request_error',
};

/** Generic client messages per type (the upstream's own text stays in the log). */
export const GENERIC_MESSAGES: Record<AnthropicErrorType, string> = {
  invalid_request_error: 'The upstream rejected the request as invalid.',
  authentication_error: 'The upstream rejected the request.',
  permission_error: 'The upstream refused the request.',
  not_found_error: 'The upstream could not find the requested model.',
  request_too_large: 'The request is too large for the upstream.',
  rate_limit_error: 'The upstream rate limit was reached; retry later.',
  billing_error: 'The upstream refused the request for billing reasons.',
  not_supported: 'The upstream does not support this request.',
  timeout_error: 'The upstream timed out.',
  overloaded_error: 'The upstream is overloaded; retry later.',
  api_error: 'The upstream failed to process the request.',
};

/** The error code as aws-sdk-js-v3 reads it: header, then body `code`, then body `__type`; cut at ':' and '#'. */
export function bedrockErrorCode(
  headerValue: string | string[] | undefined,
  body: Record<string, unknown> | undefined,
): string | undefined {
  const header = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  const raw =
    (typeof header === 'string' && header !== '' ? header : undefined) ??
    (typeof body?.code === 'string' ? body.code : undefined) ??
    (typeof body?.__type === 'string' ? body.__type : undefined);
  if (raw === undefined) return undefined;
  let code = raw.trim();
  const colon = code.indexOf(':');
  if (colon >= 0) code = code.slice(0, colon);
  const hash = code.indexOf('#');
  if (hash >= 0) code = code.slice(hash + 1);
  return code || undefined;
}

/** Maps a Bedrock error (code if known, else HTTP status) to the Anthropic-equivalent status and type. */
export function mapBedrockError(code: string | undefined, status: number): MappedError {
  const known = code === undefined ? undefined : BY_CODE[code];
  if (known) return known;
  if (status === 401 || status === 403) return { status: 502, type: 'api_error' };
  if (status === 404) return { status: 404, type: 'not_found_error' };
  if (status === 408) return { status: 504, type: 'timeout_error' };
  if (status === 413) return { status: 413, type: 'request_too_large' };
  if (status === 429) return { status: 429, type: 'rate_limit_error' };
  if (status === 529) return { status: 529, type: 'overloaded_error' };
  if (status >= 500) return { status, type: 'api_error' };
  return { status: 400, type: 'invalid_request_error' };
}

/** Type of the SSE `error` event for a mid-stream exception frame (`api_error` for anything unknown). */
export function mapStreamException(exceptionType: string | undefined): AnthropicErrorType {
  if (exceptionType === undefined) return 'api_error';
  const camel = exceptionType.charAt(0).toLowerCase() + exceptionType.slice(1);
  return STREAM_EXCEPTION_TYPES[camel] ?? 'api_error';
}
