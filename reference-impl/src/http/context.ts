/** What a handler gets for one request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Operation } from '@ocg/spec';
import type { Principal } from '../auth/static-tokens.ts';
import type { Logger } from '../log/logger.ts';

/** Facts gathered while serving a request, for the access log and the `inference_requests` row. */
export interface RequestFacts {
  model?: string;
  stream?: boolean;
  upstream?: string;
  errorType?: string;
  inputTokens?: number;
  outputTokens?: number;
}

export interface RequestContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly operation: Operation;
  /** Parsed request URL; `search` is kept verbatim for relaying. */
  readonly url: URL;
  readonly startedAt: Date;
  /** Aborted when the client disconnects or a forced shutdown cuts the request. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Set by authentication on bearer operations. */
  principal: Principal | null;
  /** The raw bytes and parsed JSON of a validated request body (POST operations). */
  body: { raw: Buffer; json: unknown } | null;
  readonly facts: RequestFacts;
}

export type Handler = (ctx: RequestContext) => Promise<void>;
