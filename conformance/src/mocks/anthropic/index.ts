/**
 * The mock Anthropic upstream: msw handlers (./handlers.ts) served over real HTTP on loopback, with an in-process
 * control API (script the next responses, inspect recorded requests, release held streams) that is also reachable
 * over HTTP under `/__ocg/control/*`.
 *
 * @example
 * const mock = await startMockAnthropic({ apiKey: 'sk-ant-test' });
 * mock.enqueue({ status: 429 });                       // the next request gets a rate-limit error
 * mock.enqueue({ holdAfter: 1 });                      // the next stream stalls after its first event
 * const seen = await mock.waitForRequest((r) => r.url.startsWith('/v1/messages'), 5000);
 * mock.release();
 * await mock.close();
 */

import { randomBytes } from 'node:crypto';
import { createMockControl, exchangeJson } from '../control.ts';
import { type Exchange, serveHandlers } from '../serve.ts';
import { type AnthropicMockState, createAnthropicHandlers } from './handlers.ts';
import type { MockScript } from './script.ts';

export type { Exchange as RecordedRequest, ExchangeOutcome } from '../serve.ts';
export type { MockEvent } from './responses.ts';
export { DEFAULT_ANSWER } from './responses.ts';
export type { MockScript } from './script.ts';

export interface MockAnthropicOptions {
  /** The key the mock requires in `x-api-key` (default: a random `sk-ant-mock-…`). */
  apiKey?: string;
  /** Port on 127.0.0.1 (default: any free port). */
  port?: number;
}

export interface MockAnthropic {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly apiKey: string;
  /** Requests received since the last `reset()`, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  /** Scripts the next response(s), in order. */
  enqueue(...scripts: MockScript[]): void;
  /** Resolves with the first recorded request matching `predicate` (already received or arriving later). */
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  /** Lets every stream held by `holdAfter` continue. */
  release(): void;
  /** Forgets scripts and recorded requests and releases held streams. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts the mock Anthropic upstream on 127.0.0.1. */
export async function startMockAnthropic(options: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const apiKey = options.apiKey ?? `sk-ant-mock-${randomBytes(18).toString('base64url')}`;
  const control = createMockControl<MockScript>('the mock upstream', exchangeJson);

  const state: AnthropicMockState = {
    apiKey,
    ...control.script,
  };

  const served = await serveHandlers(createAnthropicHandlers(state), {
    port: options.port,
    onExchange: control.onExchange,
  });

  return {
    url: served.url,
    apiKey,
    get requests() {
      return control.requests;
    },
    enqueue: state.enqueue,
    waitForRequest: control.waitForRequest,
    release: state.release,
    reset: state.reset,
    async close() {
      state.reset();
      await served.close();
    },
  };
}
