/** The `ocg` client CLI as a library: for tests and for tools that embed it. */
export { type CliIo, runCli, USAGE } from './cli.ts';
export { CliError, type CliErrorCode, EXIT_CODES } from './errors.ts';
export { configDir, createSessionStore, type SessionStore, type StoredSession } from './session-store.ts';
