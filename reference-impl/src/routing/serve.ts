/**
 * The inference handler's one call into routing (issue 4, not yet wired): route the request, relay the answer with
 * relay.ts, and leave in `ctx.facts` what the request record needs — the upstream that actually answered
 * (ROUTING-15), the usage seen even when the client went away during hold-back (ROUTING-14), and `errorType` when
 * the stream broke after content (ROUTING-7; relay.ts also sets it from the SSE `error` event it relays).
 */
import type { RequestContext } from '../http/context.ts';
import type { UpstreamResponse } from '../upstream/anthropic.ts';
import { relayResponse } from '../upstream/relay.ts';
import type { RouteFacts, RouteRequest, Router } from './route.ts';

export interface RelayRoutedOptions {
  /** Replaces relay.ts (e.g. an encoder for a pass-through surface); default `relayResponse`. */
  relay?: (ctx: RequestContext, response: UpstreamResponse) => Promise<void>;
  /** Absolute deadline on the router's clock; default the router's. */
  deadline?: number;
}

/**
 * Sends `request` for canonical model `modelId` through `router` and relays the answer to the client.
 *
 * @returns the routing facts (attempts, the upstream model id that answered) for the record
 * @throws GatewayError as `Router.send` does (the pipeline renders it); the client's abort reason
 */
export async function relayRouted(
  ctx: RequestContext,
  router: Router,
  modelId: string,
  request: RouteRequest,
  options: RelayRoutedOptions = {},
): Promise<RouteFacts> {
  const facts: RouteFacts = { attempts: [], failed: false };
  try {
    const routed = await router.send(modelId, request, {
      signal: ctx.signal,
      requestId: ctx.requestId,
      facts,
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    });
    ctx.facts.upstream = routed.upstream;
    await (options.relay ?? relayResponse)(ctx, routed.response);
    await routed.done;
    return facts;
  } finally {
    if (facts.upstream !== undefined) ctx.facts.upstream = facts.upstream;
    // relay.ts counts what it relayed; the router also saw what it held back (or read) before a disconnect.
    if (ctx.facts.inputTokens === undefined && facts.inputTokens !== undefined)
      ctx.facts.inputTokens = facts.inputTokens;
    if (ctx.facts.outputTokens === undefined && facts.outputTokens !== undefined)
      ctx.facts.outputTokens = facts.outputTokens;
    if (facts.failed && ctx.facts.errorType === undefined && facts.errorType !== undefined)
      ctx.facts.errorType = facts.errorType;
  }
}
