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
import type { Adapter, GatewayUnderTest } from '../adapters/contract.ts';
import { DEFAULT_MAX_REQUEST_BODY_BYTES } from '../adapters/contract.ts';
import { loadAdapter, validateGatewayUnderTest } from '../adapters/load.ts';
import { allCases } from '../cases/index.ts';
import { ConformanceError, isCaseFailure } from '../errors.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic/index.ts';
import { writeJsonReport } from '../report/json.ts';
import type { CaseResult, Report } from '../report/types.ts';
import { createRng, randomSeed } from '../util/rng.ts';
import { createSpecChecker } from './check.ts';
import { createGatewayClient } from './client.ts';
import { featuresOfProfile, profileResult } from './profiles.ts';
import { filterCases } from './registry.ts';
import type { CaseContext, ConformanceCase } from './types.ts';

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

async function runCase(
  c: ConformanceCase,
  gateway: GatewayUnderTest,
  features: readonly string[],
  mock: MockAnthropic,
  seed: number,
  validators: Awaited<ReturnType<typeof createValidators>>,
): Promise<CaseResult> {
  const base = { id: c.id, title: c.title, feature: c.feature, requirements: c.requirements };
  if (!features.includes(c.feature)) {
    return {
      ...base,
      result: 'unsupported',
      durationMs: 0,
      message: `the gateway does not declare feature "${c.feature}"`,
    };
  }
  mock.reset();
  const controller = new AbortController();
  const checker = createSpecChecker(validators);
  const notes: string[] = [];
  const ctx: CaseContext = {
    gateway: {
      baseUrl: gateway.baseUrl.replace(/\/+$/, ''),
      bearer: gateway.bearer,
      maxRequestBodyBytes: gateway.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      features,
    },
    mocks: { anthropic: mock },
    rng: createRng(seed).fork(c.id),
    client: createGatewayClient({
      baseUrl: gateway.baseUrl,
      bearer: gateway.bearer,
      checker,
      signal: controller.signal,
    }),
    http: { request, fetch },
    check: (operationId, r) => checker.response(operationId, r, `${operationId} → ${r.status}`),
    note: (message) => {
      notes.push(message);
    },
    fixture: async <T>(relativePath: string) =>
      JSON.parse(await readFile(join(FIXTURES_DIR, relativePath), 'utf8')) as T,
    signal: controller.signal,
  };
  const started = performance.now();
  let result: CaseResult;
  try {
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
    controller.abort(new Error('case finished'));
    mock.release();
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
  const workDir = await mkdtemp(join(tmpdir(), 'ocg-conformance-'));
  let gateway: GatewayUnderTest | undefined;
  const results: CaseResult[] = [];
  let aborted = false;
  try {
    log(`seed ${seed}; work directory ${workDir}`);
    const started = adapter.start({
      mocks: { anthropic: { url: mock.url, apiKey: mock.apiKey } },
      workDir,
      seed,
      log,
    });
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
    const declared = gateway.features ?? runFeatures;
    for (const c of cases) {
      const result = await runCase(c, gateway, declared, mock, seed, validators);
      results.push(result);
      log(`${result.result.padEnd(11)} ${c.id}`);
    }
  } catch (err) {
    aborted = true;
    throw err;
  } finally {
    if (typeof gateway?.stop === 'function') {
      await gateway
        .stop()
        .catch((err: unknown) => log(`adapter ${adapter.name}: stop() failed: ${String(err)}`));
    }
    await mock.close();
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
