/**
 * @ocg/gateway — the reference gateway of the Open Coding Gateway protocol.
 *
 * @example
 * import { loadConfigFile, startGateway } from '@ocg/gateway';
 * const gateway = await startGateway(await loadConfigFile('gateway.yaml'));
 * console.log(gateway.url);
 * await gateway.close();
 * @module
 */
export type {
  Env,
  GatewayConfig,
  ParseConfigOptions,
  ServerConfig,
  StaticTokenConfig,
  UpstreamConfig,
  UpstreamTimeouts,
} from './config/load.ts';
export { configSecrets, loadConfigFile, parseConfig } from './config/load.ts';
export {
  type AnthropicErrorType,
  type ErrorResponse,
  GatewayError,
  type GatewayErrorCode,
  isGatewayError,
} from './errors.ts';
export { type Gateway, type StartGatewayOptions, startGateway } from './gateway.ts';
export { createLogger, type Logger, type LogLevel, redact, silentLogger } from './log/logger.ts';
export type { Queryable, QueryResult, Store } from './store/store.ts';
