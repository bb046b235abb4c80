/**
 * OAuth2 access tokens for the Vertex upstream.
 *
 * Vertex takes `Authorization: Bearer <OAuth2 access token>` with scope `cloud-platform` (protocol-facts §3). The
 * token comes from google-auth-library — a service-account key file, or Application Default Credentials (metadata
 * server, `gcloud auth application-default login`, workload identity) — or, for tests and development, a static
 * token. google-auth-library caches the token; `eagerRefreshThresholdMillis` makes it fetch a new one once the
 * cached one is that close to expiry, so no request ever goes out with a token that expires in flight. Concurrent
 * requests share one in-flight fetch, so a token expiry under load costs one token-endpoint call, not one per
 * request.
 *
 * Service-account key files name their token endpoint in `token_uri`. google-auth-library ≥ 10 always posts to
 * `https://oauth2.googleapis.com/token`; we honour a different `token_uri` (a private endpoint, a test server) by
 * rewriting that one URL on the client's own transporter.
 */
import { readFile } from 'node:fs/promises';
import { type AuthClient, GoogleAuth, JWT } from 'google-auth-library';
import { GatewayError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';

/** The OAuth2 scope Vertex AI requires. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Where google-auth-library posts service-account assertions. */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Refresh a cached token once it expires within this window (google-auth-library's own default). */
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/** How the Vertex upstream authenticates. */
export type VertexAuthConfig =
  | {
      type: 'service-account';
      /** Path of a service-account JSON key file. */
      credentialsFile: string;
      /** Fetch a new token once the cached one expires within this many ms (default 5 min). */
      refreshBeforeExpiryMs?: number;
    }
  | { type: 'adc'; refreshBeforeExpiryMs?: number }
  | {
      /** A fixed access token, for tests and development: never refreshed. */
      type: 'access-token';
      token: string;
    };

export interface AccessToken {
  token: string;
  /** The credential's quota project (ADC user credentials may carry one), sent as `x-goog-user-project`. */
  quotaProjectId?: string;
}

export interface AccessTokenSource {
  /** A valid access token (cached; refreshed ahead of expiry). Rejects with ERR_UPSTREAM_AUTH. */
  token(signal?: AbortSignal): Promise<AccessToken>;
}

interface ServiceAccountKey {
  type?: string;
  client_email?: string;
  private_key?: string;
  token_uri?: string;
  [key: string]: unknown;
}

/** Builds the token source for `auth`. Nothing is read or fetched until the first `token()` call. */
export function createAccessTokenSource(auth: VertexAuthConfig, log: Logger): AccessTokenSource {
  if (auth.type === 'access-token') {
    return { token: async () => ({ token: auth.token }) };
  }
  const eagerRefreshThresholdMillis = auth.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
  let client: Promise<AuthClient> | undefined;
  let inflight: Promise<AccessToken> | undefined;

  const makeClient = async (): Promise<AuthClient> => {
    if (auth.type === 'adc') {
      const c = await new GoogleAuth({
        scopes: CLOUD_PLATFORM_SCOPE,
        clientOptions: { eagerRefreshThresholdMillis },
      }).getClient();
      // ADC from a key file (GOOGLE_APPLICATION_CREDENTIALS) honours its token_uri as an explicit key does.
      const file = process.env.GOOGLE_APPLICATION_CREDENTIALS;
      if (file) {
        const key = JSON.parse(await readFile(file, 'utf8')) as ServiceAccountKey;
        if (key.type === 'service_account') honourTokenUri(c, key);
      }
      return c;
    }
    const key = JSON.parse(await readFile(auth.credentialsFile, 'utf8')) as ServiceAccountKey;
    if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
      throw new Error('the credentials file is not a service-account key (client_email, private_key)');
    }
    // The JWT client directly, not GoogleAuth({credentials}): the file must be a service-account key, never another
    // credential type the library would load from whatever JSON it is given (and that option is deprecated).
    const c = new JWT({
      email: key.client_email,
      key: key.private_key,
      ...(typeof key.private_key_id === 'string' ? { keyId: key.private_key_id } : {}),
      scopes: CLOUD_PLATFORM_SCOPE,
      eagerRefreshThresholdMillis,
    });
    if (typeof key.quota_project_id === 'string') c.quotaProjectId = key.quota_project_id;
    honourTokenUri(c, key);
    return c;
  };

  const fetchToken = async (): Promise<AccessToken> => {
    client ??= makeClient().catch((err: unknown) => {
      client = undefined; // a missing file or bad key may be fixed without a restart
      throw err;
    });
    const c = await client;
    const { token } = await c.getAccessToken();
    if (!token) throw new Error('google-auth-library returned no access token');
    return c.quotaProjectId ? { token, quotaProjectId: c.quotaProjectId } : { token };
  };

  return {
    async token(signal) {
      inflight ??= fetchToken().finally(() => {
        inflight = undefined;
      });
      try {
        return await (signal ? raceAbort(inflight, signal) : inflight);
      } catch (err) {
        if (signal?.aborted) throw err;
        // The operator's credential problem: logged with detail, never the client's 401 (ERRORS-6).
        log.error('vertex access token could not be obtained', { err, auth: auth.type });
        throw new GatewayError('ERR_UPSTREAM_AUTH', 'The gateway could not authenticate with its upstream.', {
          cause: err,
        });
      }
    },
  };
}

/** Sends the client's token requests to the key's `token_uri` when it is not Google's default endpoint. */
function honourTokenUri(client: AuthClient, key: ServiceAccountKey): void {
  if (typeof key.token_uri !== 'string' || key.token_uri === GOOGLE_TOKEN_URL) return;
  const tokenUri = new URL(key.token_uri);
  client.transporter.interceptors.request.add({
    resolved: async (options) => {
      if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUri);
      return options;
    },
  });
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
