/**
 * `getManagedSettings` (GET /managed/settings), `listModels` (GET /v1/models) and `getModel`
 * (GET /v1/models/{model_id}): what the signed-in user inherits from the one policy that applies to them.
 * Serves POLICY-1…5 (shape, checksum/ETag, 304, 404 vs an empty policy, pushed client environment), POLICY-4 (one
 * precedence rule for settings, models and inference) and MODELS-1…3 (the list is exactly what the caller may use,
 * aliases resolve, one model or 404).
 *
 * The rules themselves live in `src/policy/` (tested there); this module binds them to HTTP. Authentication has
 * already happened: `ctx.principal` is set on these bearer operations.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { Handler, RequestContext } from '../http/context.ts';
import type { PolicyConfig } from '../policy/config.ts';
import {
  type GatewayEnvironment,
  managedSettingsResponse,
  matchesIfNoneMatch,
} from '../policy/managed-settings.ts';
import { allowedModels, listModelsPage, type ModelCatalogue, type ModelInfo } from '../policy/models.ts';
import { type PolicyMatchResult, resolvePolicyMatch } from '../policy/resolve.ts';

/** Which client environment the gateway pushes in `/managed/settings` (config `clientEnvironment`). */
export interface ClientEnvironmentConfig {
  /** Push `CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`: the client then lists `/v1/models`. Default true. */
  modelDiscovery?: boolean;
  /** Push the OTLP exporter variables pointing at the gateway. Default false (needs the OTLP endpoints). */
  telemetry?: boolean;
}

export interface PolicyHandlerDeps {
  catalogue: ModelCatalogue;
  policies: readonly PolicyConfig[];
  /**
   * Client environment added to every 200 answer of `/managed/settings` (see {@link clientEnvironment}); absent:
   * the policy's settings are served as written.
   */
  environment?: GatewayEnvironment;
}

/**
 * The {@link GatewayEnvironment} for the config's `clientEnvironment` switches and the gateway's public base URL
 * (`auth.issuer`). Model discovery defaults to on (the gateway serves `/v1/models`); telemetry defaults to off
 * (pointing the client's OTLP exporter at a gateway that does not accept OTLP would make it log an error on every
 * flush).
 */
export function clientEnvironment(
  config: ClientEnvironmentConfig | undefined,
  baseUrl: string,
): GatewayEnvironment {
  return {
    baseUrl,
    modelDiscovery: config?.modelDiscovery ?? true,
    otlp: config?.telemetry ?? false,
  };
}

/**
 * The policy that applies to the request's principal (with its tier, for logs), or `null`. A principal from a
 * development static token carries no groups and no session: it is matched like any other user (users, email
 * domain and everyone tiers).
 */
export function policyForRequest(
  policies: readonly PolicyConfig[],
  ctx: Pick<RequestContext, 'principal'>,
): PolicyMatchResult | null {
  const principal = ctx.principal;
  if (principal === null) {
    // Bearer operations are authenticated before the handler runs; reaching here unauthenticated is a wiring bug.
    throw new GatewayError('ERR_UNAUTHENTICATED', 'Missing credentials: sign in to the gateway.', {
      headers: { 'www-authenticate': 'Bearer realm="ocg"' },
    });
  }
  return resolvePolicyMatch(policies, {
    subject: principal.subject,
    email: principal.email ?? null,
    groups: principal.groups ?? [],
  });
}

/**
 * Per-user answers: a shared cache must not keep them; a private cache may keep them but must revalidate (the ETag
 * makes that one `304`).
 */
const CACHE_CONTROL = 'private, no-cache';
/** Longest requested model name echoed in a message. */
const ECHO_LIMIT = 128;

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': CACHE_CONTROL,
  });
  res.end(body);
}

function modelInfo(catalogue: ModelCatalogue, id: string): ModelInfo | null {
  const m = catalogue.get(id);
  return m ? { type: 'model', id: m.id, display_name: m.displayName, created_at: m.createdAt } : null;
}

/** A single query parameter; a repeated one is refused rather than silently picking one. */
function queryParam(ctx: RequestContext, name: string): string | undefined {
  const values = ctx.url.searchParams.getAll(name);
  if (values.length > 1) throw new GatewayError('ERR_INVALID_REQUEST', `${name} may be given only once`);
  return values[0];
}

export function policyHandlers(
  deps: PolicyHandlerDeps,
): Record<'getManagedSettings' | 'listModels' | 'getModel', Handler> {
  const { catalogue, policies } = deps;
  const settingsOptions = deps.environment ? { environment: deps.environment } : {};

  return {
    async getManagedSettings(ctx) {
      const match = policyForRequest(policies, ctx);
      const answer = managedSettingsResponse(match?.policy ?? null, settingsOptions);
      ctx.logger.debug('managed settings', {
        policy: match?.policy.name ?? null,
        tier: match?.tier ?? null,
        status: answer.status,
      });
      if (answer.status === 404) {
        throw new GatewayError(
          'ERR_NOT_FOUND',
          match === null
            ? 'No managed policy applies to you (no policy matches your account).'
            : `No managed policy applies to you (policy '${match.policy.name}' pushes no managed settings).`,
          { headers: { 'cache-control': CACHE_CONTROL } },
        );
      }
      if (matchesIfNoneMatch(ctx.req.headers['if-none-match'], answer.etag)) {
        ctx.res.writeHead(304, { etag: answer.etag, 'cache-control': CACHE_CONTROL });
        ctx.res.end();
        return;
      }
      sendJson(ctx.res, 200, answer.body, { etag: answer.etag });
    },

    async listModels(ctx) {
      const match = policyForRequest(policies, ctx);
      const limit = queryParam(ctx, 'limit');
      const afterId = queryParam(ctx, 'after_id');
      const beforeId = queryParam(ctx, 'before_id');
      const page = listModelsPage(catalogue, allowedModels(catalogue, match?.policy ?? null), {
        ...(limit !== undefined ? { limit } : {}),
        ...(afterId !== undefined ? { afterId } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
      });
      sendJson(ctx.res, 200, page);
    },

    async getModel(ctx) {
      const requested = ctx.params.model_id ?? '';
      const match = policyForRequest(policies, ctx);
      const id = catalogue.resolve(requested);
      const shown = requested.length > ECHO_LIMIT ? `${requested.slice(0, ECHO_LIMIT)}…` : requested;
      // 404 for anything /v1/models would not list, worded like the allowlist's 400s.
      if (id === null) {
        throw new GatewayError('ERR_NOT_FOUND', `model '${shown}' is not offered by this gateway`);
      }
      if (match === null) throw new GatewayError('ERR_NOT_FOUND', 'no policy grants you any model');
      const info = allowedModels(catalogue, match.policy).includes(id) ? modelInfo(catalogue, id) : null;
      if (info === null) {
        throw new GatewayError(
          'ERR_NOT_FOUND',
          `model '${shown}' is not allowed by policy '${match.policy.name}'`,
        );
      }
      sendJson(ctx.res, 200, info);
    },
  };
}
