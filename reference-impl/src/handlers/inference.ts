/**
 * `createMessage` (POST /v1/messages) and `countMessageTokens` (POST /v1/messages/count_tokens): the Anthropic
 * Messages API relayed to the configured upstream. Serves INFERENCE-1…9. Authentication (INFERENCE-10) and body
 * checks (ERRORS-3, ERRORS-4, ERRORS-5) happen before a handler runs.
 *
 * Model allowlist (POLICY-6, MODELS-2): before anything is sent upstream, the body's `model` is checked against the
 * policy that applies to the caller (`src/policy/models.ts` `checkModelAllowed`: a missing, unknown or denied model
 * is `400 invalid_request_error` naming the rule). An alias is rewritten to the canonical id the catalogue resolves
 * it to, in the raw bytes of the body and nowhere else, so the upstream, the `inference_requests` row and the
 * allowlist all see the same model, and operator-defined aliases (which the upstream does not know) work.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { components } from '../generated/openapi.ts';
import type { Handler, RequestContext } from '../http/context.ts';
import type { PolicyConfig } from '../policy/config.ts';
import { checkModelAllowed, type ModelCatalogue } from '../policy/models.ts';
import { findTopLevelMembers, replaceSpan } from '../policy/request-model.ts';
import type { Router } from '../routing/route.ts';
import { relayRouted } from '../routing/serve.ts';
import { policyForRequest } from './policy.ts';

type MessageCreateRequest = components['schemas']['MessageCreateRequest'];

/** Operations that leave a row in `inference_requests`. */
export const RECORDED_OPERATIONS: ReadonlySet<string> = new Set([
  'createMessage',
  'countMessageTokens',
  // The pass-through surfaces (src/handlers/passthrough.ts) are createMessage in another shape.
  'invokeBedrockModel',
  'invokeBedrockModelStream',
  'vertexRawPredict',
  'vertexStreamRawPredict',
  // … and their token counts are countMessageTokens in another shape.
  'countBedrockModelTokens',
  'vertexCountTokens',
]);

/** The upstream path of every message request, whichever surface it arrived on. */
const MESSAGES_PATH = '/v1/messages';
/** The upstream path of every token count, whichever surface it arrived on. */
const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

/**
 * How a message request that arrived in another shape (the Bedrock and Vertex pass-through surfaces) is served
 * through createMessage's path: the caller has already put an Anthropic body in `ctx.body`.
 */
export interface MessageRequestOptions {
  /** Headers relayed upstream instead of the client's `rawHeaders` (same flat `[name, value, …]` layout). */
  rawHeaders?: readonly string[];
  /** Where the answer is written instead of `ctx.res`: an encoder in front of it (Bedrock's event stream). */
  res?: ServerResponse;
}

/** The model catalogue and the policies the allowlist is checked against. */
export interface InferencePolicyDeps {
  catalogue: ModelCatalogue;
  policies: readonly PolicyConfig[];
}

/**
 * Checks the request's model against the caller's policy and rewrites an alias to its canonical id.
 *
 * @throws GatewayError 400 `invalid_request_error`: `model is required`, `no policy grants you any model`,
 *   `model 'x' is not offered by this gateway`, `model 'x' is not allowed by policy 'p' (allowed: …)`, or
 *   `model must be given once` for a body with several top-level `model` members.
 */
export function enforceModelAllowlist(ctx: RequestContext, deps: InferencePolicyDeps): string {
  const body = ctx.body;
  const json = body?.json as { model?: unknown } | null | undefined;
  const requested = json !== null && typeof json === 'object' ? json.model : undefined;
  const match = policyForRequest(deps.policies, ctx);
  let canonical: string;
  try {
    canonical = checkModelAllowed(deps.catalogue, match?.policy ?? null, requested);
  } catch (err) {
    if (err instanceof GatewayError) {
      ctx.logger.info('model refused', {
        code: err.code,
        policy: match?.policy.name ?? null,
        tier: match?.tier ?? null,
      });
    }
    throw err;
  }
  ctx.facts.model = canonical;
  if (body === null) return canonical;
  const spans = findTopLevelMembers(body.raw, 'model');
  if (spans === null || spans.length !== 1) {
    // Parsers disagree on duplicate keys: the upstream might read a different `model` than the one checked.
    throw new GatewayError('ERR_INVALID_REQUEST', 'model must be given once');
  }
  if (canonical !== requested) {
    const raw = replaceSpan(body.raw, spans[0] as { start: number; end: number }, canonical);
    ctx.body = { ...body, raw, json: { ...(json as object), model: canonical } };
  }
  return canonical;
}

/** Where message requests go: the router (routing/route.ts), which picks the target and fails over. */
export type Dispatcher = Router;

async function relay(
  ctx: RequestContext,
  router: Dispatcher,
  awaitsWholeAnswer: boolean,
  path: string = ctx.operation.path,
  options: MessageRequestOptions = {},
): Promise<void> {
  await relayRouted(options.res ? { ...ctx, res: options.res } : ctx, router, ctx.facts.model ?? '', {
    path,
    search: ctx.url.search,
    rawHeaders: options.rawHeaders ?? ctx.req.rawHeaders,
    body: ctx.body?.raw ?? Buffer.alloc(0),
    awaitsWholeAnswer,
  });
}

/**
 * createMessage itself: allowlist (alias rewrite) then relay. Exported so the pass-through surfaces serve their
 * requests through exactly this path (same policy, routing and record).
 */
export async function serveMessageRequest(
  ctx: RequestContext,
  upstream: Dispatcher,
  policy: InferencePolicyDeps,
  options: MessageRequestOptions = {},
): Promise<void> {
  const body = ctx.body?.json as MessageCreateRequest;
  ctx.facts.stream = body.stream === true;
  enforceModelAllowlist(ctx, policy);
  await relay(ctx, upstream, !ctx.facts.stream, MESSAGES_PATH, options);
}

/**
 * countMessageTokens itself: allowlist (alias rewrite) then relay. Exported so the pass-through token counts are
 * served through exactly this path (same policy, routing and record).
 */
export async function serveCountTokensRequest(
  ctx: RequestContext,
  upstream: Dispatcher,
  policy: InferencePolicyDeps,
  options: MessageRequestOptions = {},
): Promise<void> {
  ctx.facts.stream = false;
  enforceModelAllowlist(ctx, policy);
  await relay(ctx, upstream, false, COUNT_TOKENS_PATH, options);
}

/** @param policy the catalogue and policies the allowlist is enforced with (`config.models`, `config.policies`). */
export function inferenceHandlers(
  upstream: Dispatcher,
  policy: InferencePolicyDeps,
): Record<'createMessage' | 'countMessageTokens', Handler> {
  return {
    async createMessage(ctx) {
      await serveMessageRequest(ctx, upstream, policy);
    },
    async countMessageTokens(ctx) {
      await serveCountTokensRequest(ctx, upstream, policy);
    },
  };
}
