/**
 * The pass-through cases (features `bedrock-passthrough`, `vertex-passthrough`; PASSTHROUGH-*), in run order: the
 * Bedrock surface (InvokeModel, model ids, credentials, the event stream, errors), then the Vertex surface.
 */
import type { ConformanceCase } from '../../runner/types.ts';
import bedrockCredentials from './bedrock-credentials.ts';
import bedrockErrors from './bedrock-errors.ts';
import bedrockInvoke from './bedrock-invoke.ts';
import bedrockModelIds from './bedrock-model-ids.ts';
import bedrockStream from './bedrock-stream.ts';
import vertex from './vertex.ts';

export const passthroughCases: ConformanceCase[] = [
  bedrockInvoke,
  bedrockModelIds,
  bedrockCredentials,
  bedrockStream,
  bedrockErrors,
  vertex,
];
