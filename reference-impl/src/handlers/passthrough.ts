/**
 * The Bedrock-shaped and Vertex-shaped surfaces on the gateway (features `bedrock-passthrough`,
 * `vertex-passthrough`; PASSTHROUGH-1…10): `invokeBedrockModel`, `invokeBedrockModelStream`,
 * `countBedrockModelTokens`, `vertexRawPredict`, `vertexStreamRawPredict`, `vertexCountTokens`.
 *
 * Clients configured for Bedrock (`CLAUDE_CODE_USE_BEDROCK=1` + `ANTHROPIC_BEDROCK_BASE_URL=<gateway>`) or Vertex
 * (`ANTHROPIC_VERTEX_BASE_URL=<gateway>/v1`) reach the gateway's models with the gateway's own sign-in: the
 * pipeline authenticates these operations exactly like `/v1/messages` (bearer access token). Each handler turns
 * the provider-shaped request into the Anthropic one (src/passthrough/request.ts), maps the provider's model id to
 * the catalogue (src/passthrough/models.ts), and serves it through createMessage's own code (`serve`, i.e.
 * `serveMessageRequest` of handlers/inference.ts: allowlist, routing, the `inference_requests` row) — or, for the
 * token counts, countMessageTokens' (`countTokens`). Answers are re-encoded only where the provider's wire format
 * differs: Bedrock streaming becomes an AWS event stream (src/passthrough/eventstream.ts); a non-streaming Bedrock
 * answer gains Bedrock's token-count headers and a Bedrock token count becomes `{"inputTokens"}`
 * (src/passthrough/bedrock-answer.ts); Vertex answers are Anthropic JSON/SSE already. Errors — thrown here or by
 * createMessage's path — are rendered by the pipeline in the provider's shape (src/passthrough/errors.ts).
 */
import type { Handler, RequestContext } from '../http/context.ts';
import { bedrockJsonResponse } from '../passthrough/bedrock-answer.ts';
import { eventStreamResponse } from '../passthrough/eventstream.ts';
import { type CatalogueEntryConfig, mapProviderModel, type Provider } from '../passthrough/models.ts';
import {
  type AnthropicRequest,
  anthropicRequestHeaders,
  bedrockCountTokensRequest,
  toAnthropicRequest,
  vertexCountTokensModel,
  vertexCountTokensRequest,
} from '../passthrough/request.ts';
import type { ModelCatalogue } from '../policy/models.ts';
import type { MessageRequestOptions } from './inference.ts';

export { PASSTHROUGH_ERROR_RENDERERS } from '../passthrough/errors.ts';

export type PassthroughOperation =
  | 'invokeBedrockModel'
  | 'invokeBedrockModelStream'
  | 'countBedrockModelTokens'
  | 'vertexRawPredict'
  | 'vertexStreamRawPredict'
  | 'vertexCountTokens';

export interface PassthroughDeps {
  /**
   * Serves an Anthropic message request already placed in `ctx.body` through createMessage's path, e.g.
   * `(ctx, o) => serveMessageRequest(ctx, upstream, policy, o)`.
   */
  serve(ctx: RequestContext, options: MessageRequestOptions): Promise<void>;
  /**
   * Serves an Anthropic count_tokens request already placed in `ctx.body` through countMessageTokens' path, e.g.
   * `(ctx, o) => serveCountTokensRequest(ctx, upstream, policy, o)`.
   */
  countTokens(ctx: RequestContext, options: MessageRequestOptions): Promise<void>;
  catalogue: ModelCatalogue;
  /** The config's `models[]` (their `targets[].model` name provider ids). */
  models: readonly CatalogueEntryConfig[];
}

export function passthroughHandlers(deps: PassthroughDeps): Record<PassthroughOperation, Handler> {
  /** Puts the Anthropic request in `ctx.body` (where the allowlist and the relay read it). */
  const place = (ctx: RequestContext, model: string, request: AnthropicRequest) => {
    ctx.facts.model = model;
    ctx.body = { raw: request.raw, json: request.json, form: null };
  };
  const handle =
    (provider: Provider, param: string, stream: boolean | 'from-body'): Handler =>
    async (ctx) => {
      const model = mapProviderModel(provider, ctx.params[param] ?? '', deps.models, deps.catalogue);
      const request = toAnthropicRequest(provider, ctx.body?.json, model, stream);
      const streaming = request.json.stream === true;
      place(ctx, model, request);
      const startedAt = ctx.startedAt.getTime();
      await deps.serve(ctx, {
        rawHeaders: anthropicRequestHeaders(ctx.req.rawHeaders, request.betas, streaming),
        ...(provider !== 'bedrock'
          ? {}
          : streaming
            ? { res: eventStreamResponse(ctx.res, startedAt) }
            : { res: bedrockJsonResponse(ctx.res, 'invoke', ctx.requestId, startedAt) }),
      });
    };
  return {
    invokeBedrockModel: handle('bedrock', 'model_id', false),
    invokeBedrockModelStream: handle('bedrock', 'model_id', true),
    async countBedrockModelTokens(ctx) {
      const model = mapProviderModel('bedrock', ctx.params.model_id ?? '', deps.models, deps.catalogue);
      const request = bedrockCountTokensRequest(ctx.body?.json, model);
      place(ctx, model, request);
      await deps.countTokens(ctx, {
        rawHeaders: anthropicRequestHeaders(ctx.req.rawHeaders, request.betas, false),
        res: bedrockJsonResponse(ctx.res, 'count-tokens', ctx.requestId, ctx.startedAt.getTime()),
      });
    },
    vertexRawPredict: handle('vertex', 'model', 'from-body'),
    vertexStreamRawPredict: handle('vertex', 'model', true),
    async vertexCountTokens(ctx) {
      const id = vertexCountTokensModel(ctx.body?.json);
      const model = mapProviderModel('vertex', id, deps.models, deps.catalogue);
      const request = vertexCountTokensRequest(ctx.body?.json, model);
      place(ctx, model, request);
      await deps.countTokens(ctx, {
        rawHeaders: anthropicRequestHeaders(ctx.req.rawHeaders, request.betas, false),
      });
    },
  };
}
