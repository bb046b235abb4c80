/**
 * Every case the kit ships, in run order (discovery first: a gateway that cannot describe itself fails fast).
 */
import { createRegistry } from '../runner/registry.ts';
import healthz from './discovery/healthz.ts';
import protocolDocument from './discovery/protocol-document.ts';
import readyz from './discovery/readyz.ts';
import bodyTooLarge from './errors/body-too-large.ts';
import chunkedBody from './errors/chunked-body.ts';
import errorEnvelope from './errors/error-envelope.ts';
import invalidBody from './errors/invalid-body.ts';
import requestIdHeader from './errors/request-id-header.ts';
import upstreamUnreachable from './errors/upstream-unreachable.ts';
import apiKeyHeader from './inference/api-key-header.ts';
import bearerRequired from './inference/bearer-required.ts';
import clientDisconnect from './inference/client-disconnect.ts';
import countTokens from './inference/count-tokens.ts';
import credentialsReplaced from './inference/credentials-replaced.ts';
import headerForwarding from './inference/header-forwarding.ts';
import hopByHopHeaders from './inference/hop-by-hop-headers.ts';
import noBuffering from './inference/no-buffering.ts';
import nonStreamingPassthrough from './inference/non-streaming-passthrough.ts';
import streamingPassthrough from './inference/streaming-passthrough.ts';
import unknownFieldsPassthrough from './inference/unknown-fields-passthrough.ts';

export const allCases = createRegistry([
  protocolDocument,
  healthz,
  readyz,
  nonStreamingPassthrough,
  streamingPassthrough,
  noBuffering,
  headerForwarding,
  credentialsReplaced,
  hopByHopHeaders,
  unknownFieldsPassthrough,
  countTokens,
  clientDisconnect,
  bearerRequired,
  apiKeyHeader,
  errorEnvelope,
  requestIdHeader,
  invalidBody,
  bodyTooLarge,
  chunkedBody,
  upstreamUnreachable,
]);
