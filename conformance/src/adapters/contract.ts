/**
 * Adapter contract v0 — how the kit starts a gateway it has never seen (docs/adapter-contract.md).
 *
 * An adapter is an ES module whose default export is an {@link Adapter}. The kit starts its mocks, calls
 * `start()` with their URLs and credentials, drives the returned gateway only over HTTP, and calls `stop()`.
 *
 * @example
 * // my-gateway.adapter.ts
 * import type { Adapter } from '@ocg/conformance';
 * const adapter: Adapter = {
 *   name: 'my-gateway',
 *   async start(ctx) {
 *     // render config pointing at ctx.mocks.anthropic.url / apiKey, spawn the gateway, wait for readiness
 *     return { baseUrl: 'http://127.0.0.1:8080', bearer: 'dev-token', stop: async () => {} };
 *   },
 * };
 * export default adapter;
 */

export interface AdapterContext {
  /** The mocks the gateway must use as its upstreams. */
  mocks: { anthropic: { url: string; apiKey: string } };
  /** A fresh directory the adapter may write config, data and logs into. */
  workDir: string;
  /** The run's seed: derive any random value (tokens, names) from it so runs reproduce. */
  seed: number;
  /** Progress messages for the console. */
  log(msg: string): void;
}

export interface GatewayUnderTest {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A bearer token the gateway accepts on bearer endpoints. */
  bearer: string;
  /** Feature ids the gateway implements (default: every feature of the profiles being run). */
  features?: string[];
  /** The gateway's request-body limit in bytes (default 32 MiB). */
  maxRequestBodyBytes?: number;
  /** Stops the gateway and releases what `start` took. */
  stop(): Promise<void>;
}

export interface Adapter {
  /** A short name for reports, e.g. `reference`. */
  name: string;
  start(ctx: AdapterContext): Promise<GatewayUnderTest>;
}

/** The request-body limit assumed when an adapter does not state one (the Messages API's own: 32 MiB). */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;
