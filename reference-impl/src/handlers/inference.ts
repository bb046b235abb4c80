/**
 * `createMessage` (POST /v1/messages) and `countMessageTokens` (POST /v1/messages/count_tokens): the Anthropic
 * Messages API relayed to the configured upstream. Serves INFERENCE-1…9. Authentication (INFERENCE-10) and body
 * checks (ERRORS-3, ERRORS-4, ERRORS-5) happen before a handler runs.
 */
import type { components } from '../generated/openapi.ts';
import type { Handler, RequestContext } from '../http/context.ts';
import type { Upstream } from '../upstream/anthropic.ts';
import { relayResponse } from '../upstream/relay.ts';

type MessageCreateRequest = components['schemas']['MessageCreateRequest'];

/** Operations that leave a row in `inference_requests`. */
export const RECORDED_OPERATIONS: ReadonlySet<string> = new Set(['createMessage', 'countMessageTokens']);

async function relay(ctx: RequestContext, upstream: Upstream, awaitsWholeAnswer: boolean): Promise<void> {
  ctx.facts.upstream = upstream.name;
  const response = await upstream.send({
    path: ctx.operation.path,
    search: ctx.url.search,
    rawHeaders: ctx.req.rawHeaders,
    body: ctx.body?.raw ?? Buffer.alloc(0),
    signal: ctx.signal,
    awaitsWholeAnswer,
  });
  await relayResponse(ctx, response);
}

export function inferenceHandlers(
  upstream: Upstream,
): Record<'createMessage' | 'countMessageTokens', Handler> {
  return {
    async createMessage(ctx) {
      const body = ctx.body?.json as MessageCreateRequest;
      ctx.facts.stream = body.stream === true;
      await relay(ctx, upstream, !ctx.facts.stream);
    },
    async countMessageTokens(ctx) {
      ctx.facts.stream = false;
      await relay(ctx, upstream, false);
    },
  };
}
