/**
 * Every case the kit ships, in run order (discovery first: a gateway that cannot describe itself fails fast). The
 * session cases that lock an address out or wait for expiries come last.
 */
import { createRegistry } from '../runner/registry.ts';
import adminApiKeys from './admin/api-keys.ts';
import adminRevokeSessions from './admin/revoke-sessions.ts';
import adminRoles from './admin/roles.ts';
import adminUnsignedClaims from './admin/unsigned-claims.ts';
import authorizationServerMetadata from './discovery/authorization-server-metadata.ts';
import healthz from './discovery/healthz.ts';
import ocgConfiguration from './discovery/ocg-configuration.ts';
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
import modelAliases from './models/aliases.ts';
import getModel from './models/get-model.ts';
import modelList from './models/list.ts';
import modelPaging from './models/paging.ts';
import passthroughExpiredCredential from './passthrough/expired-credential.ts';
import { passthroughCases } from './passthrough/index.ts';
import policyAllowlist from './policy/allowlist.ts';
import clientEnvironment from './policy/client-environment.ts';
import managedSettings from './policy/managed-settings.ts';
import noPolicy from './policy/no-policy.ts';
import policyPrecedence from './policy/precedence.ts';
import settingsEtag from './policy/settings-etag.ts';
import { routingCases } from './routing/index.ts';
import accessDenied from './session/access-denied.ts';
import accessTokens from './session/access-tokens.ts';
import bearerEverywhere from './session/bearer-everywhere.ts';
import browserBinding from './session/browser-binding.ts';
import claimRules from './session/claim-rules.ts';
import crossSiteApproval from './session/cross-site-approval.ts';
import deprovisioning from './session/deprovisioning.ts';
import deviceAuthorization from './session/device-authorization.ts';
import deviceCodeReplay from './session/device-code-replay.ts';
import deviceCodeStrength from './session/device-code-strength.ts';
import expiry from './session/expiry.ts';
import forgedTokens from './session/forged-tokens.ts';
import groupChange from './session/group-change.ts';
import idpAuthorizationRequest from './session/idp-authorization-request.ts';
import polling from './session/polling.ts';
import refreshReuse from './session/refresh-reuse.ts';
import refreshRotation from './session/refresh-rotation.ts';
import revocation from './session/revocation.ts';
import tokenEndpointErrors from './session/token-endpoint-errors.ts';
import userCodeBruteForce from './session/user-code-brute-force.ts';
import userCodeFormat from './session/user-code-format.ts';
import verificationPage from './session/verification-page.ts';

export const allCases = createRegistry([
  protocolDocument,
  healthz,
  readyz,
  ocgConfiguration,
  authorizationServerMetadata,
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
  deviceAuthorization,
  deviceCodeStrength,
  userCodeFormat,
  verificationPage,
  polling,
  accessDenied,
  accessTokens,
  bearerEverywhere,
  deviceCodeReplay,
  tokenEndpointErrors,
  idpAuthorizationRequest,
  claimRules,
  crossSiteApproval,
  browserBinding,
  forgedTokens,
  refreshRotation,
  refreshReuse,
  revocation,
  deprovisioning,
  groupChange,
  managedSettings,
  settingsEtag,
  noPolicy,
  clientEnvironment,
  policyPrecedence,
  modelList,
  modelPaging,
  modelAliases,
  getModel,
  policyAllowlist,
  adminRoles,
  adminApiKeys,
  adminUnsignedClaims,
  adminRevokeSessions,
  ...routingCases,
  ...passthroughCases,
  // Last: locks its own address out, then the cases that waited for expiries since the run started.
  userCodeBruteForce,
  expiry,
  passthroughExpiredCredential,
]);
