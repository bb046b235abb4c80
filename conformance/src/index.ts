/**
 * @ocg/conformance — the Open Coding Gateway conformance kit: run the protocol's cases against any gateway through
 * an adapter, with mock upstreams on loopback, and get a report per profile.
 *
 * @example
 * import { runConformance } from '@ocg/conformance';
 * const report = await runConformance({ adapter: 'reference', profiles: ['core'] });
 * @module
 */
export type {
  Adapter,
  AdapterContext,
  AdapterIdp,
  GatewayUnderTest,
  ModelFixture,
  PolicyFixture,
  PolicyFixtureEntry,
  TimingHints,
} from './adapters/contract.ts';
export {
  ADAPTER_CONTRACT_VERSION,
  DEFAULT_CLOCK_TOLERANCE_S,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
} from './adapters/contract.ts';
export { createPolicyFixture, FIXTURE_MODELS } from './adapters/fixture.ts';
export { loadAdapter, validateAdapter } from './adapters/load.ts';
export {
  createReferenceAdapter,
  type ReferenceAdapterOptions,
  referenceAdapter,
} from './adapters/reference.ts';
export {
  type Browser,
  type BrowserCookie,
  type BrowserOptions,
  createBrowser,
  type FormField,
  type FormInfo,
  type FormSubmitter,
  type FormValues,
  isSameOrigin,
  isSameSite,
  type NavigateOptions,
  type Page,
  type RedirectHop,
  type SecFetchSite,
  type SentRequest,
  type SubmitOptions,
  secFetchSite,
  siteOf,
} from './browser/index.ts';
export { allCases } from './cases/index.ts';
export { ConformanceError, type ConformanceErrorCode } from './errors.ts';
export {
  DEFAULT_ANSWER,
  type MockAnthropic,
  type MockAnthropicOptions,
  type MockEvent,
  type MockScript,
  type RecordedRequest,
  startMockAnthropic,
} from './mocks/anthropic/index.ts';
export {
  type MockBedrock,
  type MockBedrockOptions,
  startMockBedrock,
  verifyRequestAuth as verifyBedrockRequestAuth,
} from './mocks/bedrock/index.ts';
export {
  type LoginRefusal,
  MOCK_IDP_SCOPES,
  type MockIdp,
  type MockIdpClient,
  type MockIdpClientInput,
  type MockIdpEvent,
  type MockIdpEventType,
  type MockIdpOptions,
  type MockIdpRequest,
  type MockIdpUser,
  type MockIdpUserInput,
  type MockIdpUserPatch,
  startMockIdp,
  type TokenEndpointAuthMethod,
} from './mocks/idp/index.ts';
export { type MockVertex, type MockVertexOptions, startMockVertex } from './mocks/vertex/index.ts';
export { formatSummary } from './report/console.ts';
export { validateReport, writeJsonReport } from './report/json.ts';
export type { CaseResult, ProfileResult, Report } from './report/types.ts';
export type { GatewayClient, GatewayResponse, SendOptions } from './runner/client.ts';
export { KIT_TIMING, type RunOptions, runConformance } from './runner/run.ts';
export type { CaseContext, CaseIdp, ConformanceCase } from './runner/types.ts';
export {
  type ApproveOptions,
  type AuthorizationServerMetadata,
  createSignInDriver,
  DEVICE_CODE_GRANT,
  type DeviceAuthorization,
  type OAuthAnswer,
  type SignInDriver,
  type SignInDriverOptions,
  type TokenSet,
} from './signin/driver.ts';
