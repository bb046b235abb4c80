/**
 * What a conformance case is and what it gets to work with.
 */
import type { fetch, request } from 'undici';
import type { MockAnthropic } from '../mocks/anthropic/index.ts';
import type { Rng } from '../util/rng.ts';
import type { GatewayClient } from './client.ts';

export interface CaseContext {
  gateway: {
    baseUrl: string;
    bearer: string;
    /** The gateway's body limit (from the adapter, default 32 MiB). */
    maxRequestBodyBytes: number;
    features: readonly string[];
  };
  /** The mocks, reset before every case. */
  mocks: { anthropic: MockAnthropic };
  /** Seeded per case: the same seed gives every case the same values. */
  rng: Rng;
  /** Talks to the gateway; every response is validated against the spec as it is read. */
  client: GatewayClient;
  /** Plain undici for anything the client does not cover (responses are not spec-checked). */
  http: { request: typeof request; fetch: typeof fetch };
  /** Validates a response obtained some other way against the spec; throws (fails the case) on violations. */
  check(operationId: string, r: { status: number; contentType: string | null; body: unknown }): void;
  /** Records an observation for the report (shown with the result; e.g. what a MAY case saw). */
  note(message: string): void;
  /** Reads a JSON fixture from the repository's `fixtures/` directory, e.g. `messages/basic.json`. */
  fixture<T = unknown>(relativePath: string): Promise<T>;
  /** Aborted when the case runs out of time. */
  signal: AbortSignal;
}

export interface ConformanceCase {
  /** `<area>/<name>`, e.g. `inference/streaming-passthrough`. */
  id: string;
  title: string;
  /** The feature the case exercises; a gateway that does not declare it gets `unsupported`. */
  feature: string;
  /** Requirement ids the case checks. */
  requirements: string[];
  /** Wall-clock limit for the whole case. */
  timeoutMs: number;
  run(ctx: CaseContext): Promise<void>;
}

/** Identity function that gives a case literal its type. */
export function defineCase(c: ConformanceCase): ConformanceCase {
  return c;
}
