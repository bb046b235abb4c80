/**
 * The pass-through cases (features `bedrock-passthrough`, `vertex-passthrough`; PASSTHROUGH-*), in run order: the
 * Bedrock surface (InvokeModel and its token-count headers, model ids, credentials, the event stream, errors,
 * CountTokens), then the Vertex surface (rawPredict and streamRawPredict, the token count).
 */
import type { ConformanceCase } from '../../runner/types.ts';
import bedrockCountTokens from './bedrock-count-tokens.ts';
import bedrockCredentials from './bedrock-credentials.ts';
import bedrockErrors from './bedrock-errors.ts';
import bedrockInvoke from './bedrock-invoke.ts';
import bedrockModelIds from './bedrock-model-ids.ts';
import bedrockStream from './bedrock-stream.ts';
import bedrockTokenCountHeaders from './bedrock-token-count-headers.ts';
import vertex from './vertex.ts';
import vertexCountTokens from './vertex-count-tokens.ts';

export const passthroughCases: ConformanceCase[] = [
  bedrockInvoke,
  bedrockTokenCountHeaders,
  bedrockModelIds,
  bedrockCredentials,
  bedrockStream,
  bedrockErrors,
  bedrockCountTokens,
  vertex,
  vertexCountTokens,
];
