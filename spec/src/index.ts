/**
 * @ocg/spec — the Open Coding Gateway protocol as data: the OpenAPI and AsyncAPI documents, the requirements, and
 * validators built from them.
 * @module
 */
export {
  type Feature,
  listOperations,
  loadAsyncApi,
  loadOpenApi,
  loadReportSchema,
  loadRequirements,
  type Operation,
  type Profile,
  type Requirement,
  type RequirementLevel,
  type RequirementsDocument,
  specFiles,
} from './load.ts';
export { renderProtocolMarkdown } from './protocol-markdown.ts';
export { parseSseTranscript, type SseEvent } from './sse.ts';
export {
  createValidators,
  formatAjvErrors,
  type HeadersLike,
  OPENAPI_SCHEMA_ID,
  type ResponseToValidate,
  type SpecValidators,
} from './validators.ts';
