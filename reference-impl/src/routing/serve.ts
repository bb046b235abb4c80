/**
 * The inference handler's one call into routing: route the request, relay the answer with
 * relay.ts, and leave in `ctx.facts` what the request record needs — the upstream that actually answered
 * (ROUTING-15) and its model id (`upstreamModel`), the usage seen even when the client went away during hold-back
 * (ROUTING-14, written through as it is seen: the record is taken the moment the socket closes), and `errorType` when
 * the stream broke after content (ROUTING-7; relay.ts also sets it from the SSE `error` event it relays).
 */
import type { RequestContext, RequestFacts } from '../http/context.ts';
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
  // Written through at once: the request record is taken the moment the client's socket closes.
  const record = ctx.facts as RequestFacts & { upstreamModel?: string };
  const sync = (f: RouteFacts) => {
    if (f.upstream !== undefined) record.upstream = f.upstream;
    if (f.model !== undefined) record.upstreamModel = f.model;
    if (f.inputTokens !== undefined) record.inputTokens = f.inputTokens;
    if (f.outputTokens !== undefined) record.outputTokens = f.outputTokens;
    if (f.failed && f.errorType !== undefined) record.errorType = f.errorType;
  };
  const routed = await router.send(modelId, request, {
    signal: ctx.signal,
    requestId: ctx.requestId,
    facts,
    onFacts: sync,
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
  });
  await (options.relay ?? relayResponse)(ctx, routed.response);
  await routed.done;
  sync(facts);
  return facts;
}
