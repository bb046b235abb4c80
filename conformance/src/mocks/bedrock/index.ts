/**
 * The mock Amazon Bedrock runtime: msw handlers (./handlers.ts) served over real HTTP on loopback, with the same
 * in-process control API as the Anthropic mock (script the next responses, inspect recorded requests, release held
 * streams), also reachable over HTTP under `/__ocg/control/*`.
 *
 * @example
 * const mock = await startMockBedrock({ region: 'us-east-1' });
 * // point an AWS client at mock.url with mock.credentials (SigV4, service bedrock) or mock.apiKey (Bearer)
 * mock.enqueue({ status: 429 });                                         // ThrottlingException
 * mock.enqueue({ exceptionAfter: { after: 3, exception: 'modelStreamErrorException' } });
 * await mock.close();
 */

import { randomBytes } from 'node:crypto';
import { createMockControl } from '../control.ts';
import { type Exchange, serveHandlers } from '../serve.ts';
import { type BedrockMockState, createBedrockHandlers } from './handlers.ts';
import type { MockBedrockScript } from './script.ts';
import type { MockAwsCredentials } from './sigv4.ts';

export { DEFAULT_ANSWER } from '../anthropic/responses.ts';
export type { Exchange as RecordedRequest, ExchangeOutcome } from '../serve.ts';
export {
  chunkFrame,
  corrupted,
  decodeFrame,
  errorFrame,
  exceptionFrame,
  padding,
  rawChunkFrame,
  splitFrames,
} from './eventstream.ts';
export { anthropicModelName, BEDROCK_ANTHROPIC_VERSION, bedrockErrorName } from './handlers.ts';
export type { MockBedrockFrame, MockBedrockScript } from './script.ts';
export type { MockAwsCredentials } from './sigv4.ts';
export { verifyRequestAuth } from './sigv4.ts';

export interface MockBedrockOptions {
  /** The signing region the mock requires (default `us-east-1`). */
  region?: string;
  /** The AWS credentials whose SigV4 signatures it accepts (default: random `AKIA…` keys, no session token). */
  credentials?: MockAwsCredentials;
  /** The Bedrock API key it accepts as `Authorization: Bearer` (default: random). */
  apiKey?: string;
  port?: number;
}

export interface MockBedrock {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  readonly region: string;
  readonly credentials: MockAwsCredentials;
  readonly apiKey: string;
  /** Requests received since the last `reset()`, oldest first (control requests excluded). */
  readonly requests: readonly Exchange[];
  enqueue(...scripts: MockBedrockScript[]): void;
  waitForRequest(predicate?: (request: Exchange) => boolean, timeoutMs?: number): Promise<Exchange>;
  release(): void;
  reset(): void;
  close(): Promise<void>;
}

function toJson(r: Exchange): Record<string, unknown> {
  return {
    seq: r.seq,
    connection: r.connection,
    method: r.method,
    url: r.url,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.body,
    receivedAt: r.receivedAt,
    closedByClient: r.closedByClient,
    // Event-stream bodies are binary: the recorded text is only indicative.
    response: r.response ? { status: r.response.status, headers: r.response.headers } : null,
  };
}

/** Starts the mock Bedrock runtime on 127.0.0.1. */
export async function startMockBedrock(options: MockBedrockOptions = {}): Promise<MockBedrock> {
  const region = options.region ?? 'us-east-1';
  const credentials: MockAwsCredentials = options.credentials ?? {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  };
  const apiKey = options.apiKey ?? `ABSK${randomBytes(24).toString('base64')}`;
  const control = createMockControl<MockBedrockScript>('the mock Bedrock runtime', toJson);

  const state: BedrockMockState = {
    auth: { region, credentials, apiKey },
    ...control.script,
  };

  const served = await serveHandlers(createBedrockHandlers(state), {
    port: options.port,
    onExchange: control.onExchange,
    onUnhandled: () =>
      new Response(JSON.stringify({ message: 'Unknown operation' }), {
        status: 404,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype':
            'UnknownOperationException:http://internal.amazon.com/coral/com.amazon.bedrock/',
        },
      }),
  });

  return {
    url: served.url,
    region,
    credentials,
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
