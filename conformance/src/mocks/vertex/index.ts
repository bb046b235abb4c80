/**
 * The mock Google Vertex AI upstream (Anthropic models): msw handlers (./handlers.ts) served over real HTTP on
 * loopback, with the same control API as the Anthropic mock (script the next responses, inspect recorded requests,
 * release held streams), also reachable over HTTP under `/__ocg/control/*`.
 *
 * A script with a status ≥ 400 and no body answers the Google error envelope for that status (429
 * RESOURCE_EXHAUSTED, 503 UNAVAILABLE, …; 529 answers Anthropic's `overloaded_error`, as a model-level error
 * passes through Vertex); script `body` to answer anything else, e.g. an Anthropic envelope.
 *
 * @example
 * const mock = await startMockVertex({ accessToken: 'ya29.test', projectId: 'my-project' });
 * // base URL for clients: `${mock.url}/v1`
 * mock.enqueue({ status: 429 });  // → {"error":{"code":429,"message":"Quota exceeded…","status":"RESOURCE_EXHAUSTED"}}
 * await mock.close();
 */

import { randomBytes } from 'node:crypto';
import type { MockScript } from '../anthropic/script.ts';
import { createMockControl, exchangeJson } from '../control.ts';
import { type Exchange, serveHandlers } from '../serve.ts';
import { createVertexHandlers, type VertexMockState } from './handlers.ts';

export type { Exchange as RecordedRequest, ExchangeOutcome } from '../serve.ts';
export { googleErrorEnvelope, googleStatusFor } from './handlers.ts';

/** The body version Vertex documents for Anthropic models. */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
/**
 * The API version `@anthropic-ai/vertex-sdk` ≥ 1.0 copies from its `anthropic-version` header into the body
 * (SDK 1.16 default header): accepted too, so the official SDK is served unmodified.
 */
export const SDK_API_VERSION = '2026-10-21';

export interface MockVertexOptions {
  /** The OAuth2 access token the mock requires as `Authorization: Bearer` (default: a random `ya29.mock-…`). */
  accessToken?: string;
  /**
   * Accept any token this returns true for instead of `accessToken` alone (tokens that rotate, e.g. from a fake
   * OAuth2 token endpoint).
   */
  acceptToken?: (token: string) => boolean;
  /** Serve only this project (others get 403 PERMISSION_DENIED). Default: any project. */
  projectId?: string;
  /** Accepted `anthropic_version` body values (default: vertex-2023-10-16 and the SDK's API version). */
  versions?: readonly string[];
  port?: number;
}

export interface MockVertex {
  /** Origin, e.g. `http://127.0.0.1:41234`; the Vertex base URL is `${url}/v1`. */
  readonly url: string;
  readonly accessToken: string;
  /** Requests received since the last `reset()`, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  enqueue(...scripts: MockScript[]): void;
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  release(): void;
  reset(): void;
  close(): Promise<void>;
}

/** Starts the mock Vertex upstream on 127.0.0.1. */
export async function startMockVertex(options: MockVertexOptions = {}): Promise<MockVertex> {
  const accessToken = options.accessToken ?? `ya29.mock-${randomBytes(18).toString('base64url')}`;
  const control = createMockControl<MockScript>('the mock Vertex upstream', exchangeJson);

  const state: VertexMockState = {
    acceptsToken: options.acceptToken ?? ((token) => token === accessToken),
    projectId: options.projectId,
    versions: new Set(options.versions ?? [VERTEX_ANTHROPIC_VERSION, SDK_API_VERSION]),
    ...control.script,
  };

  const served = await serveHandlers(createVertexHandlers(state), {
    port: options.port,
    onExchange: control.onExchange,
  });

  return {
    url: served.url,
    accessToken,
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
