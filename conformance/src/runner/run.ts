/**
 * Runs the conformance cases against a gateway: start the mocks, start the gateway through its adapter, run every
 * selected case under a wall-clock deadline with the mocks reset in between, stop everything, build the report.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createValidators, loadRequirements } from '@ocg/spec';
import { fetch, request } from 'undici';
import type {
  Adapter,
  AdapterContext,
  GatewayUnderTest,
  PolicyFixture,
  TimingHints,
} from '../adapters/contract.ts';
import {
  ADAPTER_CONTRACT_VERSION,
  DEFAULT_CLOCK_TOLERANCE_S,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
} from '../adapters/contract.ts';
import { createPolicyFixture } from '../adapters/fixture.ts';
import { loadAdapter, validateGatewayUnderTest } from '../adapters/load.ts';
import { type Browser, createBrowser } from '../browser/index.ts';
import { allCases } from '../cases/index.ts';
import { ConformanceError, isCaseFailure } from '../errors.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic/index.ts';
import { type MockBedrock, startMockBedrock } from '../mocks/bedrock/index.ts';
import { MOCK_IDP_SCOPES, type MockIdp, type MockIdpClient, startMockIdp } from '../mocks/idp/index.ts';
import { type MockVertex, startMockVertex } from '../mocks/vertex/index.ts';
import { writeJsonReport } from '../report/json.ts';
import type { CaseResult, Report } from '../report/types.ts';
import { createSignInDriver } from '../signin/driver.ts';
import { createRng, randomSeed } from '../util/rng.ts';
import { type AddressPool, createAddressPool } from './addresses.ts';
import { createSpecChecker } from './check.ts';
import { createGatewayClient } from './client.ts';
import { type DefaultSession, startDefaultSession } from './default-session.ts';
import { readDeclaredFeatures } from './features.ts';
import { featuresOfProfile, profileResult } from './profiles.ts';
import { filterCases } from './registry.ts';
import type { CaseContext, CaseIdp, ConformanceCase } from './types.ts';

export interface RunOptions {
  /** An adapter object, a path to an adapter module, or `reference`. */
  adapter: Adapter | string;
  /** Profiles to run (default `['core']`). */
  profiles?: string[];
  /** Seed for every random value of the run (default: random; recorded in the report). */
  seed?: number;
  /** Where to write `report.json` (default `./conformance-report`; `null`: do not write). */
  outDir?: string | null;
  /** Run only the cases whose id starts with one of these prefixes. */
  caseFilter?: string | string[];
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
  /** Replaces the built-in case list (for testing the kit itself). */
  cases?: ConformanceCase[];
  /**
   * The work directory (config, gateway log, database): kept always (`true`), never (`false`), or only when a case
   * did not pass (`'on-failure'`, the default) so its gateway log can be read.
   */
  keepWorkDir?: boolean | 'on-failure';
  /** Time allowed for the adapter to start the gateway (default 120 s). */
  startTimeoutMs?: number;
}

const KIT_VERSION_URL = new URL('../../package.json', import.meta.url);
const FIXTURES_DIR = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

async function kitVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(KIT_VERSION_URL, 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function describeError(err: unknown): { message: string; details?: unknown } {
  if (err instanceof ConformanceError) {
    return err.details === undefined
      ? { message: err.message }
      : { message: err.message, details: err.details };
  }
  if (err instanceof Error) return { message: `${err.name}: ${err.message}`, details: { stack: err.stack } };
  return { message: String(err) };
}

/** The lifetimes the kit asks adapters for (adapter contract v1), so its expiry cases finish quickly. */
export const KIT_TIMING: TimingHints = Object.freeze({
  accessTokenTtlS: 60,
  clockToleranceS: 5,
  deviceCodeExpiresInS: 60,
  deviceCodeIntervalS: 1,
  routing: Object.freeze({
    firstTokenMs: 2000,
    idleMs: 2000,
    backoffBaseMs: 50,
    breakerFailureThreshold: 5,
    breakerCoolDownMs: 2000,
  }),
});

/** Everything a case context is built from, once per run. */
interface RunEnv {
  gateway: GatewayUnderTest;
  baseUrl: string;
  features: readonly string[];
  mock: MockAnthropic;
  /** The second Anthropic mock: the routed model's second target. */
  mockB: MockAnthropic;
  /** The provider mocks: the targets of the provider routes. */
  bedrock: MockBedrock;
  vertex: MockVertex;
  idp: MockIdp;
  caseIdp: CaseIdp;
  policy: PolicyFixture;
  seed: number;
  validators: Awaited<ReturnType<typeof createValidators>>;
  session: DefaultSession;
  addresses: AddressPool;
}

/** A case's context and what must be released when it ends. */
function caseContext(env: RunEnv, label: string, prepared: unknown) {
  const controller = new AbortController();
  const checker = createSpecChecker(env.validators);
  const notes: string[] = [];
  const browsers: Browser[] = [];
  const newBrowser: CaseContext['newBrowser'] = (options) => {
    const localAddress = options?.localAddress ?? env.addresses.next();
    const browser = createBrowser({ ...options, ...(localAddress ? { localAddress } : {}) });
    browsers.push(browser);
    return browser;
  };
  const bearer = () => env.session.bearer();
  const client = createGatewayClient({ baseUrl: env.baseUrl, bearer, checker, signal: controller.signal });
  const oauth = createSignInDriver({
    baseUrl: env.baseUrl,
    client,
    idp: env.idp,
    newBrowser,
    signal: controller.signal,
  });
  const ctx: CaseContext = {
    gateway: {
      baseUrl: env.baseUrl,
      get bearer() {
        return bearer();
      },
      maxRequestBodyBytes: env.gateway.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      clockToleranceS: env.gateway.clockToleranceS ?? DEFAULT_CLOCK_TOLERANCE_S,
      features: env.features,
    },
    mocks: {
      anthropic: env.mock,
      anthropicB: env.mockB,
      bedrock: env.bedrock,
      vertex: env.vertex,
      idp: env.caseIdp,
    },
    idp: env.caseIdp,
    policy: env.policy,
    timing: KIT_TIMING,
    signIn: (user) => oauth.signIn(user),
    oauth,
    newBrowser,
    prepared,
    rng: createRng(env.seed).fork(label),
    client,
    http: { request, fetch },
    check: (operationId, r) => checker.response(operationId, r, `${operationId} → ${r.status}`),
    note: (message) => {
      notes.push(message);
    },
    fixture: async <T>(relativePath: string) =>
      JSON.parse(await readFile(join(FIXTURES_DIR, relativePath), 'utf8')) as T,
    signal: controller.signal,
  };
  const release = async () => {
    controller.abort(new Error('case finished'));
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
  };
  return { ctx, checker, notes, release };
}

/** Runs the `prepare` hooks of the cases that have one, in order; failures are kept for the case's turn. */
async function prepareCases(
  cases: ConformanceCase[],
  env: RunEnv,
  log: (msg: string) => void,
): Promise<Map<string, { value?: unknown; error?: unknown }>> {
  const out = new Map<string, { value?: unknown; error?: unknown }>();
  for (const c of cases) {
    if (!c.prepare || !env.features.includes(c.feature)) continue;
    await env.session.ensureFresh(c.timeoutMs);
    const { ctx, release } = caseContext(env, `${c.id}#prepare`, undefined);
    try {
      const value = await withTimeout(
        c.prepare(ctx),
        c.timeoutMs,
        () =>
          new ConformanceError(
            'ERR_CASE_TIMEOUT',
            `the case's preparation did not finish within ${c.timeoutMs} ms`,
          ),
      );
      out.set(c.id, { value });
    } catch (error) {
      out.set(c.id, { error });
      log(`prepare failed ${c.id}: ${describeError(error).message}`);
    } finally {
      await release();
    }
  }
  return out;
}

async function runCase(
  c: ConformanceCase,
  env: RunEnv,
  prepared: { value?: unknown; error?: unknown } | undefined,
): Promise<CaseResult> {
  const base = { id: c.id, title: c.title, feature: c.feature, requirements: c.requirements };
  if (!env.features.includes(c.feature)) {
    return {
      ...base,
      result: 'unsupported',
      durationMs: 0,
      message: `the gateway does not declare feature "${c.feature}"`,
    };
  }
  env.mock.reset();
  env.mockB.reset();
  env.bedrock.reset();
  env.vertex.reset();
  env.idp.clearLog();
  await env.session.ensureFresh(c.timeoutMs);
  const { ctx, checker, notes, release } = caseContext(env, c.id, prepared?.value);
  const started = performance.now();
  let result: CaseResult;
  try {
    if (prepared?.error !== undefined) throw prepared.error;
    await withTimeout(
      c.run(ctx),
      c.timeoutMs,
      () => new ConformanceError('ERR_CASE_TIMEOUT', `the case did not finish within ${c.timeoutMs} ms`),
    );
    result = { ...base, result: 'pass', durationMs: 0 };
    if (notes.length > 0) result.message = notes.join('; ');
  } catch (err) {
    const { message, details } = describeError(err);
    result = { ...base, result: isCaseFailure(err) ? 'fail' : 'error', durationMs: 0, message };
    if (details !== undefined || notes.length > 0) result.details = { ...(details as object), notes };
  } finally {
    await release();
    env.mock.release();
    env.mockB.release();
    env.bedrock.release();
    env.vertex.release();
  }
  result.durationMs = Math.round((performance.now() - started) * 10) / 10;
  const checked = { specChecks: { ...checker.counts } };
  result.details = result.details === undefined ? checked : { ...(result.details as object), ...checked };
  // Let connections the case left behind wind down before the next case resets the mock.
  await new Promise((r) => setTimeout(r, 20));
  return result;
}

/**
 * Runs the conformance kit against the gateway an adapter starts and returns the report (also written to
 * `outDir/report.json` unless `outDir` is null).
 *
 * @example
 * const report = await runConformance({ adapter: 'reference', profiles: ['core'], seed: 42 });
 * console.log(report.profiles);
 */
export async function runConformance(options: RunOptions): Promise<Report> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? randomSeed();
  const startedAt = new Date();
  const adapter = typeof options.adapter === 'string' ? await loadAdapter(options.adapter) : options.adapter;
  const [{ features, requirements, profiles }, validators] = await Promise.all([
    loadRequirements(),
    createValidators(),
  ]);
  const selectedProfiles = options.profiles && options.profiles.length > 0 ? options.profiles : ['core'];
  const profileFeatures = new Map(
    selectedProfiles.map((p) => [p, featuresOfProfile(p, profiles, features)] as const),
  );
  const runFeatures = [...new Set([...profileFeatures.values()].flat())];
  const prefixes =
    options.caseFilter === undefined
      ? undefined
      : Array.isArray(options.caseFilter)
        ? options.caseFilter
        : [options.caseFilter];
  const cases = filterCases(options.cases ?? allCases, prefixes).filter((c) =>
    runFeatures.includes(c.feature),
  );
  if (cases.length === 0) {
    throw new ConformanceError('ERR_USAGE', 'no case matches the selected profiles and case filter');
  }

  const rng = createRng(seed);
  const mock = await startMockAnthropic({ apiKey: `sk-ant-api03-${rng.fork('mock-anthropic').string(48)}` });
  const mockB = await startMockAnthropic({
    apiKey: `sk-ant-api03-${rng.fork('mock-anthropic-b').string(48)}`,
  }).catch(async (err: unknown) => {
    await mock.close();
    throw err;
  });
  const providerRng = rng.fork('mock-providers');
  const closeAll = async (...mocks: Array<{ close(): Promise<void> } | undefined>) => {
    for (const m of mocks) await m?.close().catch(() => {});
  };
  let bedrock: MockBedrock | undefined;
  let vertex: MockVertex | undefined;
  try {
    bedrock = await startMockBedrock({
      region: 'us-east-1',
      credentials: {
        accessKeyId: `AKIA${providerRng.hex(8).toUpperCase()}`,
        secretAccessKey: providerRng.string(40),
      },
      apiKey: `bedrock-api-key-${providerRng.string(32)}`,
    });
    vertex = await startMockVertex({
      accessToken: `ya29.mock-${providerRng.string(40)}`,
      projectId: 'ocg-conformance',
    });
  } catch (err) {
    await closeAll(mock, mockB, bedrock, vertex);
    throw err;
  }
  const idp = await startMockIdp({ seed: rng.fork('mock-idp').int(0x1_0000_0000) }).catch(
    async (err: unknown) => {
      await closeAll(mock, mockB, bedrock, vertex);
      throw err;
    },
  );
  const clients: MockIdpClient[] = [];
  const caseIdp = idpForCases(idp, clients);
  const policy = createPolicyFixture(rng.fork('policy'));
  const workDir = await mkdtemp(join(tmpdir(), 'ocg-conformance-'));
  let gateway: GatewayUnderTest | undefined;
  let session: DefaultSession | undefined;
  const results: CaseResult[] = [];
  let aborted = false;
  try {
    log(`seed ${seed}; work directory ${workDir}`);
    const adapterContext: AdapterContext = {
      contractVersion: ADAPTER_CONTRACT_VERSION,
      mocks: {
        anthropic: { url: mock.url, apiKey: mock.apiKey },
        anthropicB: { url: mockB.url, apiKey: mockB.apiKey },
        bedrock: {
          url: bedrock.url,
          region: bedrock.region,
          credentials: {
            accessKeyId: bedrock.credentials.accessKeyId,
            secretAccessKey: bedrock.credentials.secretAccessKey,
          },
          apiKey: bedrock.apiKey,
        },
        vertex: {
          baseUrl: `${vertex.url}/v1`,
          region: 'us-east5',
          projectId: 'ocg-conformance',
          accessToken: vertex.accessToken,
        },
        idp: {
          issuer: idp.issuer,
          discoveryUrl: idp.discoveryUrl,
          scopes: MOCK_IDP_SCOPES.filter((s) => s !== 'offline_access'),
          claims: { email: 'email', emailVerified: 'email_verified', name: 'name', groups: 'groups' },
          async registerClient(input) {
            const client = await idp.registerClient({
              redirectUris: input.redirectUris,
              ...(input.clientId === undefined ? {} : { clientId: input.clientId }),
              ...(input.clientSecret === undefined ? {} : { clientSecret: input.clientSecret }),
              tokenEndpointAuthMethod: input.tokenEndpointAuthMethod ?? 'client_secret_post',
            });
            clients.push(client);
            return {
              clientId: client.clientId,
              clientSecret: client.clientSecret ?? '',
              tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
            };
          },
        },
      },
      policy,
      timing: KIT_TIMING,
      workDir,
      seed,
      log,
    };
    const started = adapter.start(adapterContext);
    try {
      gateway = await withTimeout(
        started,
        options.startTimeoutMs ?? 120_000,
        () =>
          new ConformanceError(
            'ERR_ADAPTER_START',
            `adapter ${adapter.name}: start() did not finish in time`,
          ),
      );
    } catch (err) {
      if (err instanceof ConformanceError) throw err;
      throw new ConformanceError(
        'ERR_ADAPTER_START',
        `adapter ${adapter.name}: start() failed: ${describeError(err).message}`,
        {
          cause: err,
        },
      );
    }
    validateGatewayUnderTest(gateway, adapter.name);
    const baseUrl = gateway.baseUrl.replace(/\/+$/, '');
    const declared = gateway.features ?? (await readDeclaredFeatures(baseUrl)) ?? runFeatures;
    const addresses = await createAddressPool(baseUrl, rng.fork('addresses'));
    session = await startDefaultSession({
      baseUrl,
      addresses,
      adapterBearer: gateway.bearer,
      signIn: declared.includes('sign-in'),
      idp,
      user: { groups: [policy.groups.developers] },
      validators,
      log,
    });
    const env: RunEnv = {
      gateway,
      baseUrl,
      features: declared,
      mock,
      mockB,
      bedrock,
      vertex,
      idp,
      caseIdp,
      policy,
      seed,
      validators,
      session,
      addresses,
    };
    const prepared = await prepareCases(cases, env, log);
    for (const c of cases) {
      const result = await runCase(c, env, prepared.get(c.id));
      results.push(result);
      log(`${result.result.padEnd(11)} ${c.id}`);
    }
  } catch (err) {
    aborted = true;
    throw err;
  } finally {
    await session?.close();
    if (typeof gateway?.stop === 'function') {
      await gateway
        .stop()
        .catch((err: unknown) => log(`adapter ${adapter.name}: stop() failed: ${String(err)}`));
    }
    await mock.close();
    await mockB.close();
    await bedrock.close();
    await vertex.close();
    await idp.close();
    if (aborted && options.keepWorkDir === false) await rm(workDir, { recursive: true, force: true });
  }

  const report: Report = {
    reportVersion: '0.1',
    kit: { name: '@ocg/conformance', version: await kitVersion() },
    gateway: { adapter: adapter.name, baseUrl: gateway?.baseUrl ?? '' },
    seed,
    ...(typeof options.adapter === 'string'
      ? { reproduce: reproduceCommand(options.adapter, selectedProfiles, seed, prefixes) }
      : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    profiles: selectedProfiles.map((name) =>
      profileResult(
        name,
        results.filter((r) => profileFeatures.get(name)?.includes(r.feature)),
        requirements,
      ),
    ),
    cases: results,
    summary: {
      passed: results.filter((r) => r.result === 'pass').length,
      failed: results.filter((r) => r.result === 'fail').length,
      unsupported: results.filter((r) => r.result === 'unsupported').length,
      errored: results.filter((r) => r.result === 'error').length,
    },
  };
  if (!report.gateway.baseUrl) delete report.gateway.baseUrl;
  const problems = validators.validateReport(report);
  if (problems.length > 0) {
    throw new ConformanceError(
      'ERR_REPORT_INVALID',
      `the report does not match its schema: ${problems.join('; ')}`,
      {
        details: report,
      },
    );
  }
  if (options.outDir !== null) await writeJsonReport(report, options.outDir ?? 'conformance-report');
  const allPassed = results.every((r) => r.result === 'pass' || r.result === 'unsupported');
  const keep = options.keepWorkDir ?? 'on-failure';
  if (keep === true || (keep === 'on-failure' && !allPassed)) log(`work directory kept: ${workDir}`);
  else await rm(workDir, { recursive: true, force: true });
  return report;
}

/** The mock IdP as cases see it (no close/registerClient; the runner clears its log between cases). */
function idpForCases(idp: MockIdp, clients: readonly MockIdpClient[]): CaseIdp {
  return {
    get issuer() {
      return idp.issuer;
    },
    get origin() {
      return idp.origin;
    },
    get port() {
      return idp.port;
    },
    get seed() {
      return idp.seed;
    },
    get discoveryUrl() {
      return idp.discoveryUrl;
    },
    get jwks() {
      return idp.jwks;
    },
    get signingKeys() {
      return idp.signingKeys;
    },
    get events() {
      return idp.events;
    },
    get requests() {
      return idp.requests;
    },
    get users() {
      return idp.users;
    },
    clients,
    createUser: (input) => idp.createUser(input),
    getUser: (subject) => idp.getUser(subject),
    findUser: (login) => idp.findUser(login),
    updateUser: (subject, patch) => idp.updateUser(subject, patch),
    setGroups: (subject, groups) => idp.setGroups(subject, groups),
    disableUser: (subject) => idp.disableUser(subject),
    enableUser: (subject) => idp.enableUser(subject),
    deleteUser: (subject) => idp.deleteUser(subject),
  };
}

/** The command line that runs the same cases against the same adapter with the same seed. */
export function reproduceCommand(
  adapter: string,
  profiles: string[],
  seed: number,
  cases?: string[],
): string {
  return [
    'ocg-conformance',
    'run',
    '--adapter',
    adapter,
    ...profiles.flatMap((p) => ['--profile', p]),
    '--seed',
    String(seed),
    ...(cases ?? []).flatMap((c) => ['--case', c]),
  ]
    .map(shellQuote)
    .join(' ');
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
