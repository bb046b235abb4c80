/**
 * The `ocg` CLI's one error class. Every failure the CLI knows about has a stable string `code` and its own exit
 * status, so a script (or Claude Code running `ocg token` as its `apiKeyHelper`) can tell "sign in again" from
 * "the gateway is down" without parsing messages. The table is documented in docs/cli.md; keep them in step.
 *
 * Messages are for the user and never contain a secret (tokens, device codes, refresh tokens).
 */

export type CliErrorCode =
  | 'ERR_NOT_SIGNED_IN'
  | 'ERR_USAGE'
  | 'ERR_GATEWAY_UNREACHABLE'
  | 'ERR_NOT_A_GATEWAY'
  | 'ERR_BAD_METADATA'
  | 'ERR_INSECURE_URL'
  | 'ERR_ACCESS_DENIED'
  | 'ERR_DEVICE_CODE_EXPIRED'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_SESSION_CORRUPT'
  | 'ERR_SESSION_INSECURE'
  | 'ERR_PERMISSION'
  | 'ERR_GATEWAY_ERROR'
  | 'ERR_LOCKED'
  | 'ERR_TLS'
  | 'ERR_CANCELLED'
  | 'ERR_INTERNAL';

/** Exit status per code. 1 is "not signed in" (what `ocg status` returns when signed out); 2 is a usage error. */
export const EXIT_CODES: Readonly<Record<CliErrorCode, number>> = {
  ERR_NOT_SIGNED_IN: 1,
  ERR_USAGE: 2,
  ERR_GATEWAY_UNREACHABLE: 3,
  ERR_NOT_A_GATEWAY: 4,
  ERR_BAD_METADATA: 5,
  ERR_INSECURE_URL: 6,
  ERR_ACCESS_DENIED: 7,
  ERR_DEVICE_CODE_EXPIRED: 8,
  ERR_SESSION_EXPIRED: 9,
  ERR_SESSION_CORRUPT: 10,
  ERR_SESSION_INSECURE: 11,
  ERR_PERMISSION: 12,
  ERR_GATEWAY_ERROR: 13,
  ERR_LOCKED: 14,
  ERR_TLS: 15,
  ERR_INTERNAL: 70,
  ERR_CANCELLED: 130,
};

/**
 * @example
 * throw new CliError('ERR_NOT_SIGNED_IN', 'not signed in: run `ocg login <gateway-url>`');
 */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

export function isCliError(err: unknown): err is CliError {
  return err instanceof CliError;
}
