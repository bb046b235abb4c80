/**
 * The pass-through surfaces answer errors the way their provider does, so the provider's SDK (and Claude Code in
 * Bedrock or Vertex mode) reads the type and retries as it would against the real service (PASSTHROUGH-6,
 * PASSTHROUGH-7, and for the token counts PASSTHROUGH-8, PASSTHROUGH-9). Every gateway error keeps its status class and its message (already client-safe: upstream
 * detail never reaches a GatewayError message); only the envelope changes. Used by the pipeline for errors found
 * before the handler runs (missing bearer, bad JSON, body too large) and by the handlers for everything after.
 */
import type { GatewayError } from '../errors.ts';

/** What the pipeline writes for an error. */
export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ErrorRenderer = (err: GatewayError, requestId: string) => RenderedError;

/** Bedrock's exception name and status for a gateway error. */
export function bedrockException(err: GatewayError): { status: number; name: string } {
  switch (err.type) {
    case 'authentication_error':
      return { status: 401, name: 'UnrecognizedClientException' };
    case 'permission_error':
      return { status: 403, name: 'AccessDeniedException' };
    case 'not_found_error':
      return { status: 404, name: 'ResourceNotFoundException' };
    case 'rate_limit_error':
      return { status: 429, name: 'ThrottlingException' };
    case 'billing_error':
      return { status: 400, name: 'ServiceQuotaExceededException' };
    case 'timeout_error':
      return { status: 408, name: 'ModelTimeoutException' };
    case 'overloaded_error':
      return { status: 503, name: 'ServiceUnavailableException' };
    case 'invalid_request_error':
    case 'request_too_large':
    case 'not_supported':
      return { status: err.status < 500 ? err.status : 400, name: 'ValidationException' };
    default:
      return err.status === 503 || err.status === 529
        ? { status: 503, name: 'ServiceUnavailableException' }
        : { status: Math.max(err.status, 500), name: 'InternalServerException' };
  }
}

/** `x-amzn-ErrorType` + `{"message"}` (aws-sdk-js-v3 reads the code from that header first). */
export const renderBedrockError: ErrorRenderer = (err, requestId) => {
  const { status, name } = bedrockException(err);
  const body = JSON.stringify({ message: err.message });
  return {
    status,
    headers: {
      ...err.headers,
      'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': requestId,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  };
};

/** Google's canonical status name for an HTTP status (google.rpc.Code as mapped by Google APIs). */
export function googleStatus(status: number): string {
  switch (status) {
    case 400:
    case 411:
    case 413:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 405:
    case 501:
      return 'UNIMPLEMENTED';
    case 408:
    case 504:
      return 'DEADLINE_EXCEEDED';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 502:
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
  }
}

/** The Google error envelope `{"error": {code, message, status}}`; 529 (overloaded) becomes 503 UNAVAILABLE. */
export const renderGoogleError: ErrorRenderer = (err, requestId) => {
  const status = err.status === 529 ? 503 : err.status;
  const body = JSON.stringify({
    error: { code: status, message: err.message, status: googleStatus(status) },
  });
  return {
    status,
    headers: {
      ...err.headers,
      'x-request-id': requestId,
      'content-type': 'application/json; charset=UTF-8',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  };
};

/** Error renderers of the pass-through operations, by operationId (for the pipeline). */
export const PASSTHROUGH_ERROR_RENDERERS: Readonly<Record<string, ErrorRenderer>> = {
  invokeBedrockModel: renderBedrockError,
  invokeBedrockModelStream: renderBedrockError,
  countBedrockModelTokens: renderBedrockError,
  vertexRawPredict: renderGoogleError,
  vertexStreamRawPredict: renderGoogleError,
  vertexCountTokens: renderGoogleError,
};
