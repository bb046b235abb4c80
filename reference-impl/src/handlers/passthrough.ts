/**
 * The Bedrock-shaped and Vertex-shaped surfaces on the gateway (features `bedrock-passthrough`,
 * `vertex-passthrough`; PASSTHROUGH-1…7): `invokeBedrockModel`, `invokeBedrockModelStream`, `vertexRawPredict`,
 * `vertexStreamRawPredict`.
 *
 * Clients configured for Bedrock (`CLAUDE_CODE_USE_BEDROCK=1` + `ANTHROPIC_BEDROCK_BASE_URL=<gateway>`) or Vertex
 * (`ANTHROPIC_VERTEX_BASE_URL=<gateway>/v1`) reach the gateway's models with the gateway's own sign-in: the
 * pipeline authenticates these operations exactly like `/v1/messages` (bearer access token). Each handler turns
 * the provider-shaped request into the Anthropic one (src/passthrough/request.ts), maps the path's model id to the
 * catalogue (src/passthrough/models.ts), and serves it through createMessage's own code (`serve`, i.e.
 * `serveMessageRequest` of handlers/inference.ts: allowlist, routing, the `inference_requests` row). Answers are
 * re-encoded only where the provider's wire format differs: Bedrock streaming becomes an AWS event stream
 * (src/passthrough/eventstream.ts); Vertex answers are Anthropic JSON/SSE already. Errors — thrown here or by
 * createMessage's path — are rendered by the pipeline in the provider's shape (src/passthrough/errors.ts).
 */
import type { Handler, RequestContext } from '../http/context.ts';
import { eventStreamResponse } from '../passthrough/eventstream.ts';
import { type CatalogueEntryConfig, mapProviderModel, type Provider } from '../passthrough/models.ts';
import { anthropicRequestHeaders, toAnthropicRequest } from '../passthrough/request.ts';
import type { ModelCatalogue } from '../policy/models.ts';
import type { MessageRequestOptions } from './inference.ts';

export { PASSTHROUGH_ERROR_RENDERERS } from '../passthrough/errors.ts';

export type PassthroughOperation =
  | 'invokeBedrockModel'
  | 'invokeBedrockModelStream'
  | 'vertexRawPredict'
  | 'vertexStreamRawPredict';

export interface PassthroughDeps {
  /**
   * Serves an Anthropic message request already placed in `ctx.body` through createMessage's path, e.g.
   * `(ctx, o) => serveMessageRequest(ctx, upstream, policy, o)`.
   */
  serve(ctx: RequestContext, options: MessageRequestOptions): Promise<void>;
  catalogue: ModelCatalogue;
  /** The config's `models[]` (their `targets[].model` name provider ids). */
  models: readonly CatalogueEntryConfig[];
}

export function passthroughHandlers(deps: PassthroughDeps): Record<PassthroughOperation, Handler> {
  const handle =
    (provider: Provider, param: string, stream: boolean | 'from-body'): Handler =>
    async (ctx) => {
      const model = mapProviderModel(provider, ctx.params[param] ?? '', deps.models, deps.catalogue);
      const request = toAnthropicRequest(provider, ctx.body?.json, model, stream);
      const streaming = request.json.stream === true;
      ctx.facts.model = model;
      ctx.body = { raw: request.raw, json: request.json, form: null };
      await deps.serve(ctx, {
        rawHeaders: anthropicRequestHeaders(ctx.req.rawHeaders, request.betas, streaming),
        ...(provider === 'bedrock' && streaming
          ? { res: eventStreamResponse(ctx.res, ctx.startedAt.getTime()) }
          : {}),
      });
    };
  return {
    invokeBedrockModel: handle('bedrock', 'model_id', false),
    invokeBedrockModelStream: handle('bedrock', 'model_id', true),
    vertexRawPredict: handle('vertex', 'model', 'from-body'),
    vertexStreamRawPredict: handle('vertex', 'model', true),
  };
}
