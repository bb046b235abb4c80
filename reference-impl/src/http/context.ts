/** What a handler gets for one request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Operation } from '@ocg/spec';
import type { Logger } from '../log/logger.ts';
import type { Principal } from '../session/principal.ts';

/** Facts gathered while serving a request, for the access log and the `inference_requests` row. */
export interface RequestFacts {
  model?: string;
  stream?: boolean;
  upstream?: string;
  /** The model id at the upstream that answered (after routing and failover). */
  upstreamModel?: string;
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
  /** Set by authentication on bearer operations (and on admin operations called with a user's bearer). */
  principal: Principal | null;
  /** Set by authentication on admin operations. */
  admin: AdminIdentity | null;
  /** Path parameters of a templated path (`/v1/models/{model_id}` → `{ model_id }`), percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /**
   * The request body of a POST/PUT/PATCH operation. JSON operations: the raw bytes and the parsed, validated JSON
   * (`form` null). Form operations (`application/x-www-form-urlencoded`): the raw bytes and the parsed form
   * (`json` null; validation of form fields is the handler's, since each protocol words its own errors).
   */
  body: { raw: Buffer; json: unknown; form: URLSearchParams | null } | null;
  readonly facts: RequestFacts;
}

/** Who is calling an admin operation, and what they may do. */
export interface AdminIdentity {
  kind: 'user' | 'api_key';
  /** The user's IdP subject (kind `user`). */
  subject?: string;
  email?: string | null;
  /** The admin API key's id (kind `api_key`). */
  keyId?: string;
  scopes: ReadonlyArray<'read' | 'write'>;
}

export type Handler = (ctx: RequestContext) => Promise<void>;
