/**
 * The kit's one error class, with stable string codes (after panva/jose `JOSEError`).
 */
export type ConformanceErrorCode =
  /** Bad command line or library options. */
  | 'ERR_USAGE'
  /** An adapter file could not be loaded or does not have the adapter shape. */
  | 'ERR_ADAPTER_INVALID'
  /** The adapter failed to start (or stop) the gateway. */
  | 'ERR_ADAPTER_START'
  /** A case's expectation about the gateway did not hold. */
  | 'ERR_CASE_FAILED'
  /** A gateway response or SSE event does not match the spec. */
  | 'ERR_SPEC_VIOLATION'
  /** A case did not finish within its time limit. */
  | 'ERR_CASE_TIMEOUT'
  /** The report does not match the report schema (a kit bug). */
  | 'ERR_REPORT_INVALID'
  /** The mock OpenID Provider was misused (unknown user, invalid client metadata, …). */
  | 'ERR_MOCK_IDP'
  /** The kit's browser could not navigate (too many redirects, no such form, network error). */
  | 'ERR_BROWSER';

export class ConformanceError extends Error {
  readonly code: ConformanceErrorCode;
  readonly details: unknown;

  constructor(
    code: ConformanceErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConformanceError';
    this.code = code;
    this.details = options.details;
  }
}

/** True for the errors that mean "the gateway is at fault" (a failed case) rather than a kit problem. */
export function isCaseFailure(err: unknown): err is ConformanceError {
  return (
    err instanceof ConformanceError &&
    (err.code === 'ERR_CASE_FAILED' || err.code === 'ERR_SPEC_VIOLATION' || err.code === 'ERR_CASE_TIMEOUT')
  );
}

/** Fails the running case with `message` (and optional diagnostic details for the report). */
export function fail(message: string, details?: unknown): never {
  throw new ConformanceError('ERR_CASE_FAILED', message, { details });
}

/** Fails the running case unless `condition` holds. */
export function expectThat(condition: unknown, message: string, details?: unknown): asserts condition {
  if (!condition) fail(message, details);
}
