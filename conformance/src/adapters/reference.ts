/**
 * The built-in adapter for the OCG reference gateway (@ocg/gateway). It renders the gateway's config YAML into the
 * work directory (secrets as `${env:…}` references handed to the child in its environment: the gateway refuses
 * literal secrets), spawns `<node> <the gateway's bin>` as a child process on port 0, reads the listening URL from
 * its JSON log, registers `<url>/oauth/callback` at the kit's mock IdP under the client id and secret it put in the
 * config, waits for `GET /readyz` to answer 200, and stops it with SIGTERM (SIGKILL after a deadline). It hands back
 * no bearer: the gateway declares `sign-in`, so the runner signs its default user in through the device flow.
 *
 * The gateway is found by module resolution of `@ocg/gateway/package.json` and its `bin` field: the kit never
 * imports gateway code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { ConformanceError } from '../errors.ts';
import { createRng } from '../util/rng.ts';
import type { Adapter, AdapterContext, GatewayUnderTest } from './contract.ts';

export interface ReferenceAdapterOptions {
  /** Path of the gateway's entry file (default: the `bin` of @ocg/gateway, found by module resolution). */
  gatewayBin?: string;
  /** Database URL (default: embedded PGlite in the run's work directory, so every run starts empty). */
  databaseUrl?: string;
  /** The body limit to configure (default 2 MiB, so the 413 case stays quick). */
  maxRequestBodyBytes?: number;
  /** How long to wait for the gateway to listen and be ready (default 60 s). */
  startTimeoutMs?: number;
  /** Gateway log level (default `info`). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * The URL clients reach the gateway at, when something sits in front of it (the kit's mutants put a proxy
   * there): it becomes `auth.issuer`, the IdP redirect URI's origin and the `baseUrl` handed back. Default: the
   * URL the gateway listens on.
   */
  publicBaseUrl?: string;
  /** Called with the URL the gateway listens on as soon as it is known (before readiness). */
  onListening?: (url: string) => void;
}

/** Locates the reference gateway's entry file through its package.json `bin`. */
export async function resolveGatewayBin(): Promise<string> {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('@ocg/gateway/package.json');
  } catch (err) {
    throw new ConformanceError(
      'ERR_ADAPTER_START',
      'reference adapter: @ocg/gateway is not installed (cannot resolve @ocg/gateway/package.json)',
      { cause: err },
    );
  }
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin =
    typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.['ocg-gateway'] ?? Object.values(pkg.bin ?? {})[0]);
  if (!bin) throw new ConformanceError('ERR_ADAPTER_START', `reference adapter: ${pkgPath} has no "bin"`);
  return resolve(dirname(pkgPath), bin);
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * The reference gateway's configuration for a run (adapter contract v1): the mock upstream for every model, the
 * mock IdP as its OpenID Provider (the client is registered once the gateway's URL is known), the kit's policy
 * fixture as `models`/`policies`/`auth.adminGroups`, and the short lifetimes the kit asks for. Secrets are
 * `${env:…}` references (the gateway refuses literal secrets); their values go into the child's environment.
 */
export function renderReferenceConfig(
  ctx: AdapterContext,
  options: { maxRequestBodyBytes: number; logLevel: string; clientId: string; issuer?: string },
): Record<string, unknown> {
  const { policy, timing } = ctx;
  const idp = ctx.mocks.idp;
  return {
    server: {
      host: '127.0.0.1',
      port: 0,
      maxRequestBodyBytes: options.maxRequestBodyBytes,
      shutdownGraceMs: 2000,
    },
    database: { url: '${env:OCG_CONFORMANCE_DATABASE_URL}' },
    auth: {
      ...(options.issuer ? { issuer: options.issuer } : {}),
      keyEncryptionKey: '${env:OCG_CONFORMANCE_KEK}',
      accessTokenTtlS: timing.accessTokenTtlS,
      clockToleranceS: timing.clockToleranceS,
      deviceAuthorization: { expiresInS: timing.deviceCodeExpiresInS, intervalS: timing.deviceCodeIntervalS },
      oidc: {
        issuer: idp.issuer,
        clientId: options.clientId,
        clientSecret: '${env:OCG_CONFORMANCE_OIDC_CLIENT_SECRET}',
        tokenEndpointAuthMethod: 'client_secret_post',
        scopes: idp.scopes.join(' '),
        claims: { email: idp.claims.email, name: idp.claims.name, groups: idp.claims.groups },
        requireEmailVerified: true,
        allowedEmailDomains: [...policy.allowedEmailDomains],
        groupsOverage: policy.groupsOverage,
      },
      adminGroups: { read: [...policy.adminGroups.read], write: [...policy.adminGroups.write] },
    },
    upstreams: [
      {
        name: 'anthropic',
        kind: 'anthropic',
        baseUrl: ctx.mocks.anthropic.url,
        apiKey: '${env:OCG_CONFORMANCE_ANTHROPIC_API_KEY}',
        timeouts: { connectMs: 5000, firstByteMs: 30000, idleMs: 60000 },
      },
      ...(ctx.mocks.anthropicB
        ? [
            {
              name: 'anthropic-b',
              kind: 'anthropic',
              baseUrl: ctx.mocks.anthropicB.url,
              apiKey: '${env:OCG_CONFORMANCE_ANTHROPIC_B_API_KEY}',
              timeouts: { connectMs: 5000, firstByteMs: 30000, idleMs: 60000 },
            },
          ]
        : []),
      ...(ctx.mocks.bedrock
        ? [
            {
              name: 'bedrock',
              kind: 'bedrock',
              region: ctx.mocks.bedrock.region,
              baseUrl: ctx.mocks.bedrock.url,
              auth: {
                type: 'sigv4',
                accessKeyId: ctx.mocks.bedrock.credentials.accessKeyId,
                secretAccessKey: '${env:OCG_CONFORMANCE_BEDROCK_SECRET_ACCESS_KEY}',
              },
              timeouts: { connectMs: 5000, firstByteMs: 30000, idleMs: 60000 },
            },
          ]
        : []),
      ...(ctx.mocks.vertex
        ? [
            {
              name: 'vertex',
              kind: 'vertex',
              region: ctx.mocks.vertex.region,
              projectId: ctx.mocks.vertex.projectId,
              baseUrl: ctx.mocks.vertex.baseUrl,
              auth: { type: 'access-token', token: '${env:OCG_CONFORMANCE_VERTEX_ACCESS_TOKEN}' },
              timeouts: { connectMs: 5000, firstByteMs: 30000, idleMs: 60000 },
            },
          ]
        : []),
    ],
    // Every model goes to the first upstream (mock A) with its own id, except the routed models.
    models: policy.models.map((m) => {
      const routed = [...(policy.routing ? [policy.routing] : []), ...(policy.providerRoutes ?? [])].find(
        (r) => r.model === m.id,
      );
      const available = (mock: string) =>
        mock === 'anthropic' || (ctx.mocks as Record<string, unknown>)[mock] !== undefined;
      return {
        id: m.id,
        displayName: m.displayName,
        ...(m.aliases && m.aliases.length > 0 ? { aliases: [...m.aliases] } : {}),
        ...(m.createdAt ? { createdAt: m.createdAt } : {}),
        ...(routed?.targets.every((t) => available(t.mock))
          ? {
              targets: routed.targets.map((t) => ({
                upstream: t.mock === 'anthropicB' ? 'anthropic-b' : t.mock,
                model: t.upstreamModel,
              })),
            }
          : {}),
      };
    }),
    ...(timing.routing
      ? {
          routing: {
            firstTokenMs: timing.routing.firstTokenMs,
            idleMs: timing.routing.idleMs,
            backoffBaseMs: timing.routing.backoffBaseMs,
            breaker: {
              failureThreshold: timing.routing.breakerFailureThreshold,
              coolDownMs: timing.routing.breakerCoolDownMs,
            },
          },
        }
      : {}),
    policies: policy.policies.map((p) => ({
      name: p.name,
      match: p.match,
      managedSettings: p.managedSettings,
      models: [...p.models],
    })),
    log: { level: options.logLevel },
  };
}

/** Creates a reference adapter with options (the default export `referenceAdapter` uses the defaults). */
export function createReferenceAdapter(options: ReferenceAdapterOptions = {}): Adapter {
  return {
    name: 'reference',
    async start(ctx: AdapterContext): Promise<GatewayUnderTest> {
      const bin = options.gatewayBin ?? (await resolveGatewayBin());
      const rng = createRng(ctx.seed).fork('reference-adapter');
      const maxRequestBodyBytes = options.maxRequestBodyBytes ?? 2 * 1024 * 1024;
      const databaseUrl = options.databaseUrl ?? `pglite://${join(ctx.workDir, 'db')}`;
      // The IdP client's id and secret are chosen here and registered once the gateway's port is known.
      const clientId = `ocg-reference-${rng.string(10).toLowerCase()}`;
      const clientSecret = rng.string(48);
      const kek = Buffer.from(rng.hex(64), 'hex').toString('base64url');
      const config = renderReferenceConfig(ctx, {
        maxRequestBodyBytes,
        logLevel: options.logLevel ?? 'info',
        clientId,
        ...(options.publicBaseUrl ? { issuer: options.publicBaseUrl.replace(/\/+$/, '') } : {}),
      });
      const configPath = join(ctx.workDir, 'gateway.yaml');
      await writeFile(configPath, stringify(config));
      const logPath = join(ctx.workDir, 'gateway.log');
      const logFile = createWriteStream(logPath);

      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.DATABASE_URL;
      delete env.OCG_CONFIG;
      env.OCG_CONFORMANCE_DATABASE_URL = databaseUrl;
      env.OCG_CONFORMANCE_KEK = kek;
      env.OCG_CONFORMANCE_OIDC_CLIENT_SECRET = clientSecret;
      env.OCG_CONFORMANCE_ANTHROPIC_API_KEY = ctx.mocks.anthropic.apiKey;
      if (ctx.mocks.anthropicB) env.OCG_CONFORMANCE_ANTHROPIC_B_API_KEY = ctx.mocks.anthropicB.apiKey;
      if (ctx.mocks.bedrock)
        env.OCG_CONFORMANCE_BEDROCK_SECRET_ACCESS_KEY = ctx.mocks.bedrock.credentials.secretAccessKey;
      if (ctx.mocks.vertex) env.OCG_CONFORMANCE_VERTEX_ACCESS_TOKEN = ctx.mocks.vertex.accessToken;

      ctx.log(`reference adapter: starting ${bin} (config ${configPath}, log ${logPath})`);
      const child = spawn(process.execPath, [bin, '--config', configPath], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-8000);
        logFile.write(chunk);
      });
      let listenUrl: string | undefined;
      const listening = new Promise<string>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
        lines.on('line', (line) => {
          logFile.write(`${line}\n`);
          if (listenUrl) return;
          try {
            const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
            if (entry.msg === 'gateway listening' && typeof entry.url === 'string') {
              listenUrl = entry.url;
              options.onListening?.(entry.url);
              resolve(entry.url);
            }
          } catch {
            // not a JSON log line
          }
        });
        child.once('exit', (code, signal) =>
          reject(new Error(`the gateway exited before listening (code ${code}, signal ${signal})`)),
        );
        child.once('error', reject);
      });

      const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          if (!(await waitForExit(child, 10_000))) {
            child.kill('SIGKILL');
            await waitForExit(child, 5_000);
          }
        }
        await new Promise<void>((resolve) => logFile.end(resolve));
      };

      const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
      try {
        const url = await Promise.race([
          listening,
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error('no "gateway listening" log line')),
              deadline - Date.now(),
            ).unref(),
          ),
        ]);
        while (!(await isReady(url))) {
          if (child.exitCode !== null) throw new Error(`the gateway exited (code ${child.exitCode})`);
          if (Date.now() > deadline) throw new Error('GET /readyz did not answer 200');
          await new Promise((r) => setTimeout(r, 100));
        }
        const baseUrl = (options.publicBaseUrl ?? url).replace(/\/+$/, '');
        await ctx.mocks.idp.registerClient({
          clientId,
          clientSecret,
          redirectUris: [`${baseUrl}/oauth/callback`],
          tokenEndpointAuthMethod: 'client_secret_post',
        });
        ctx.log(`reference adapter: gateway ready at ${baseUrl} (IdP client ${clientId})`);
        return { baseUrl, maxRequestBodyBytes, clockToleranceS: ctx.timing.clockToleranceS, stop };
      } catch (err) {
        await stop();
        throw new ConformanceError(
          'ERR_ADAPTER_START',
          `reference adapter: ${(err as Error).message} within ${options.startTimeoutMs ?? 60_000} ms\n` +
            `--- gateway stderr (see ${logPath}) ---\n${stderr.trim() || '(empty)'}`,
          { cause: err },
        );
      }
    },
  };
}

/** The built-in `reference` adapter. */
export const referenceAdapter: Adapter = createReferenceAdapter();
export default referenceAdapter;
