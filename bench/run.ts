#!/usr/bin/env node
/**
 * OCG benchmark: added latency of the reference gateway over a direct call, against a bare undici pass-through
 * proxy as the floor. See bench/README.md.
 *
 *   npm run bench [-- --rounds 3 --duration 5 --warmup 2 --quick --upstream mock|plain --event-delay-ms 0
 *                     --log-level warn --database <url> --connections 1,64 --out bench/results]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  firstJsonLine,
  freePort,
  runToEnd,
  sleep,
  spawnChild,
  stopAll,
  stopChildrenOnExitAndSignals,
} from './lib/children.ts';
import { messageRequestBody } from './lib/payloads.ts';
import { cpuMicros, rssBytes } from './lib/proc.ts';
import { renderMarkdown } from './lib/report.ts';
import { freeResultBase, runStamp } from './lib/results.ts';
import { median, ratio } from './lib/stats.ts';
import {
  type Measurement,
  type Percentiles,
  type Scenario,
  type ScenarioSummary,
  TARGETS,
  type TargetName,
  type TargetSummary,
} from './lib/types.ts';

const TARGET_RATIO = 1.5;
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    quick: { type: 'boolean', default: false },
    connections: { type: 'string', default: '1,64' },
    upstream: { type: 'string', default: 'plain' },
    'event-delay-ms': { type: 'string', default: '1' },
    'log-level': { type: 'string', default: 'warn' },
    database: { type: 'string' },
    out: { type: 'string', default: join(benchDir, 'results') },
    'gateway-entry': { type: 'string', default: join(repoRoot, 'reference-impl', 'src', 'main.ts') },
    'keep-tmp': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench -- [options]
  --rounds N          rounds of every scenario × target (default 3; --quick: 1)
  --duration S        whole seconds per measurement (default 5; --quick: 1)
  --warmup S          warm-up seconds per target before the first round (default 2; --quick: 1)
  --quick             smoke run; result files get a "-quick" suffix
  --connections LIST  concurrent connections (default 1,64)
  --upstream KIND     plain (default: bench/upstream.ts node:http server) | mock (startMockAnthropic)
  --event-delay-ms N  plain upstream only: delay between SSE events (default 1)
  --log-level LEVEL   gateway log.level (default warn)
  --database URL      gateway database (default PGlite in bench/tmp/<run>/db)
  --out DIR           where results go (default bench/results)
  --cpu-prof          write a V8 CPU profile of the gateway into bench/tmp/<run>/ (implies --keep-tmp)
  --keep-tmp          keep bench/tmp/<run> (config, logs, database) after a successful run
  --gateway-entry F   gateway entry file run as \`node F --config <yaml>\` (default reference-impl/src/main.ts)`);
  process.exit(0);
}

const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
const durationS = Number(args.duration ?? (quick ? 1 : 5));
const warmupS = Number(args.warmup ?? (quick ? 1 : 2));
const connectionCounts = args.connections.split(',').map((c) => Number(c.trim()));
const eventDelayMs = Number(args['event-delay-ms']);
for (const [name, v] of [
  ['rounds', rounds],
  ['duration', durationS],
  ['warmup', warmupS],
  ...connectionCounts.map((c) => ['connections', c] as const),
] as const) {
  // wrk takes whole seconds only.
  if (!Number.isInteger(v) || v < 0 || (name !== 'warmup' && v === 0)) {
    console.error(`invalid --${name}: a whole number${name === 'warmup' ? '' : ' above 0'} is needed`);
    process.exit(2);
  }
}

if (args.upstream !== 'plain' && args.upstream !== 'mock') {
  console.error('invalid --upstream: plain or mock');
  process.exit(2);
}
if (!Number.isFinite(eventDelayMs) || eventDelayMs < 0) {
  console.error('invalid --event-delay-ms');
  process.exit(2);
}

const wrkCheck = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
if (wrkCheck.error) {
  console.error('wrk not found: install wrk (apt-get install wrk)');
  process.exit(1);
}
const wrkVersion = `${wrkCheck.stdout}${wrkCheck.stderr}`.split('\n')[0]?.trim() ?? 'unknown';

const scenarios: Scenario[] = [
  ...connectionCounts.map((c): Scenario => ({ id: `nonstream-c${c}`, kind: 'nonstream', connections: c })),
  ...connectionCounts.map((c): Scenario => ({ id: `ttfb-c${c}`, kind: 'ttfb', connections: c })),
];

// ---------------------------------------------------------------------------------------------------------------
// Setup

const stamp = runStamp();
const workDir = join(benchDir, 'tmp', `${stamp}-${randomBytes(3).toString('hex')}`);
mkdirSync(workDir, { recursive: true });
const bodyFiles = { nonstream: join(workDir, 'body.json'), stream: join(workDir, 'body-stream.json') };
writeFileSync(bodyFiles.nonstream, messageRequestBody(false));
writeFileSync(bodyFiles.stream, messageRequestBody(true));

const token = `ocg_bench_${randomBytes(16).toString('hex')}`;
const upstreamKey = `sk-ant-bench-${randomBytes(8).toString('hex')}`;
const databaseUrl = args.database ?? `pglite://${join(workDir, 'db')}`;
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  OCG_BENCH_TOKEN: token,
  OCG_BENCH_UPSTREAM_KEY: upstreamKey,
  OCG_BENCH_DATABASE_URL: databaseUrl,
};
delete childEnv.DATABASE_URL;
delete childEnv.OCG_CONFIG;
const node = process.execPath;

const wasInterrupted = stopChildrenOnExitAndSignals();

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function waitReady(
  url: string,
  gateway: { exitCode: number | null },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (gateway.exitCode !== null) throw new Error(`gateway exited with code ${gateway.exitCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`gateway not ready after ${timeoutMs} ms (last /readyz: ${last})`);
}

function renderGatewayConfig(port: number, upstreamUrl: string, logLevel: string): string {
  return `# Rendered by bench/run.ts
server:
  host: 127.0.0.1
  port: ${port}
  shutdownGraceMs: 2000
database:
  url: \${env:OCG_BENCH_DATABASE_URL}
auth:
  staticTokens:
    - token: \${env:OCG_BENCH_TOKEN}
      subject: bench-user
      email: bench@example.com
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: ${upstreamUrl}
    apiKey: \${env:OCG_BENCH_UPSTREAM_KEY}
models:
  - { id: claude-sonnet-4-5, displayName: Claude Sonnet 4.5 }
policies:
  - { name: everyone, match: { everyone: true }, models: ['*'] }
log:
  level: ${logLevel}
`;
}

interface Target {
  name: TargetName;
  url: string;
  headers: string[];
}

async function sanityCheck(t: Target): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const h of t.headers) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const plain = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers,
    body: messageRequestBody(false),
  });
  const plainText = await plain.text();
  if (plain.status !== 200 || !plainText.includes('"message"')) {
    throw new Error(`${t.name}: non-streaming check failed: HTTP ${plain.status} ${plainText.slice(0, 300)}`);
  }
  const stream = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers,
    body: messageRequestBody(true),
  });
  const streamText = await stream.text();
  const type = stream.headers.get('content-type') ?? '';
  if (
    stream.status !== 200 ||
    !type.startsWith('text/event-stream') ||
    !streamText.includes('message_stop')
  ) {
    throw new Error(
      `${t.name}: streaming check failed: HTTP ${stream.status} ${type} ${streamText.slice(0, 300)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

const pids: { upstream?: number; bare?: number; gateway?: number } = {};

interface LoadResult {
  latencyUs: Percentiles;
  totalUs?: Percentiles;
  requests: number;
  errors: number;
  firstError?: string | null;
  durationUs: number;
}

async function runWrk(t: Target, connections: number, seconds: number): Promise<LoadResult> {
  const wrkArgs = [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '--timeout',
    '10s',
    '-s',
    join(benchDir, 'wrk', 'post.lua'),
  ];
  for (const h of t.headers) wrkArgs.push('-H', h);
  wrkArgs.push(`${t.url}/v1/messages`, '--', bodyFiles.nonstream);
  const { code, stdout, stderr } = await runToEnd('wrk', wrkArgs);
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (code ${code}): ${stderr.trim()} ${stdout.trim()}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length)) as {
    p50: number;
    p90: number;
    p99: number;
    requests: number;
    durationUs: number;
    errors: Record<string, number>;
  };
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return {
    latencyUs: { p50: r.p50, p90: r.p90, p99: r.p99 },
    requests: r.requests,
    errors,
    firstError: errors > 0 ? `wrk errors ${JSON.stringify(r.errors)}` : null,
    durationUs: r.durationUs,
  };
}

async function runTtfb(t: Target, connections: number, seconds: number): Promise<LoadResult> {
  const clientArgs = [join(benchDir, 'ttfb-client.ts'), '--url', t.url];
  clientArgs.push('--connections', String(connections), '--duration', String(seconds));
  for (const h of t.headers) clientArgs.push('--header', h);
  const { code, stdout, stderr } = await runToEnd(node, clientArgs, { env: childEnv });
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`ttfb client failed (code ${code}): ${stderr.trim()}`);
  const r = JSON.parse(line) as {
    ttfbUs: Percentiles;
    totalUs: Percentiles;
    requests: number;
    errors: number;
    firstError: string | null;
    durationUs: number;
  };
  return {
    latencyUs: r.ttfbUs,
    totalUs: r.totalUs,
    requests: r.requests,
    errors: r.errors,
    firstError: r.firstError,
    durationUs: r.durationUs,
  };
}

function runLoad(t: Target, s: Scenario, seconds: number): Promise<LoadResult> {
  return s.kind === 'nonstream' ? runWrk(t, s.connections, seconds) : runTtfb(t, s.connections, seconds);
}

async function measure(t: Target, s: Scenario, round: number, position: number): Promise<Measurement> {
  const before = {
    upstream: cpuMicros(pids.upstream),
    bare: cpuMicros(pids.bare),
    gateway: cpuMicros(pids.gateway),
  };
  const r = await runLoad(t, s, durationS);
  const after = {
    upstream: cpuMicros(pids.upstream),
    bare: cpuMicros(pids.bare),
    gateway: cpuMicros(pids.gateway),
  };
  const perRequest = (k: 'upstream' | 'bare' | 'gateway'): number | null => {
    const a = after[k];
    const b = before[k];
    return a === null || b === null || r.requests === 0 ? null : (a - b) / r.requests;
  };
  const m: Measurement = {
    round,
    scenario: s.id,
    target: t.name,
    position,
    latencyUs: r.latencyUs,
    ...(r.totalUs ? { totalUs: r.totalUs } : {}),
    requests: r.requests,
    errors: r.errors,
    firstError: r.firstError ?? null,
    durationUs: r.durationUs,
    requestsPerSecond: r.durationUs > 0 ? (r.requests * 1e6) / r.durationUs : 0,
    cpuUsPerRequest: {
      upstream: perRequest('upstream'),
      bare: perRequest('bare'),
      gateway: perRequest('gateway'),
    },
    gatewayRssBytes: rssBytes(pids.gateway),
  };
  log(
    `round ${round} ${s.id.padEnd(13)} ${t.name.padEnd(7)} p50 ${(m.latencyUs.p50 / 1000).toFixed(3)} ms  ` +
      `p99 ${(m.latencyUs.p99 / 1000).toFixed(3)} ms  ${Math.round(m.requestsPerSecond)} req/s` +
      (t.name === 'direct' ? '' : `  cpu ${Math.round(m.cpuUsPerRequest[t.name] ?? Number.NaN)} µs/req`) +
      (m.errors > 0 ? `  ERRORS ${m.errors}: ${m.firstError}` : ''),
  );
  return m;
}

function summarise(measurements: Measurement[]): {
  summaries: ScenarioSummary[];
  overallCpu: { bareUsPerRequest: number | null; gatewayUsPerRequest: number | null; ratio: number | null };
} {
  const summaries = scenarios.map((scenario): ScenarioSummary => {
    const of = (t: TargetName) => measurements.filter((m) => m.scenario === scenario.id && m.target === t);
    const directByRound = new Map(of('direct').map((m) => [m.round, m]));
    const targetSummary = (t: TargetName): TargetSummary => {
      const ms = of(t);
      const added = (p: 'p50' | 'p99') =>
        median(
          ms.map((m) => {
            const d = directByRound.get(m.round);
            return d ? m.latencyUs[p] - d.latencyUs[p] : null;
          }),
        );
      return {
        latencyUs: {
          p50: median(ms.map((m) => m.latencyUs.p50)),
          p90: median(ms.map((m) => m.latencyUs.p90)),
          p99: median(ms.map((m) => m.latencyUs.p99)),
        },
        ...(scenario.kind === 'ttfb'
          ? {
              totalUs: {
                p50: median(ms.map((m) => m.totalUs?.p50)),
                p99: median(ms.map((m) => m.totalUs?.p99)),
              },
            }
          : {}),
        addedUs: t === 'direct' ? { p50: 0, p99: 0 } : { p50: added('p50'), p99: added('p99') },
        requestsPerSecond: median(ms.map((m) => m.requestsPerSecond)),
        proxyCpuUsPerRequest: t === 'direct' ? null : median(ms.map((m) => m.cpuUsPerRequest[t])),
        upstreamCpuUsPerRequest: median(ms.map((m) => m.cpuUsPerRequest.upstream)),
      };
    };
    const targets = {
      direct: targetSummary('direct'),
      bare: targetSummary('bare'),
      gateway: targetSummary('gateway'),
    };
    const p50Ratio = ratio(targets.gateway.addedUs.p50, targets.bare.addedUs.p50);
    return {
      scenario,
      targets,
      addedRatio: { p50: p50Ratio, p99: ratio(targets.gateway.addedUs.p99, targets.bare.addedUs.p99) },
      cpuRatio: ratio(targets.gateway.proxyCpuUsPerRequest, targets.bare.proxyCpuUsPerRequest),
      p50Target: p50Ratio === null ? 'n/a' : p50Ratio <= TARGET_RATIO ? 'met' : 'not met',
    };
  });
  const cpuTotal = (t: 'bare' | 'gateway') => {
    const ms = measurements.filter((m) => m.target === t && m.cpuUsPerRequest[t] !== null);
    const requests = ms.reduce((a, m) => a + m.requests, 0);
    const cpu = ms.reduce((a, m) => a + (m.cpuUsPerRequest[t] as number) * m.requests, 0);
    return requests > 0 ? cpu / requests : null;
  };
  const bareCpu = cpuTotal('bare');
  const gatewayCpu = cpuTotal('gateway');
  return {
    summaries,
    overallCpu: {
      bareUsPerRequest: bareCpu,
      gatewayUsPerRequest: gatewayCpu,
      ratio: ratio(gatewayCpu, bareCpu),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const loadAvgStart = os.loadavg();
  log(
    `work dir ${relative(repoRoot, workDir)}; ${rounds} round(s) × ${scenarios.length} scenarios × 3 targets × ${durationS} s`,
  );

  const upstreamArgs = [
    join(benchDir, 'upstream.ts'),
    '--kind',
    args.upstream,
    '--event-delay-ms',
    String(eventDelayMs),
  ];
  const upstream = spawnChild(node, upstreamArgs, { env: childEnv, logFile: join(workDir, 'upstream.log') });
  const { url: upstreamUrl } = await firstJsonLine<{ url: string }>(upstream, 'upstream');
  pids.upstream = upstream.pid;
  log(`upstream (${args.upstream}) at ${upstreamUrl}`);

  const bare = spawnChild(node, [join(benchDir, 'bare-proxy.ts'), '--upstream', upstreamUrl], {
    env: childEnv,
    logFile: join(workDir, 'bare-proxy.log'),
  });
  const { url: bareUrl } = await firstJsonLine<{ url: string }>(bare, 'bare proxy');
  pids.bare = bare.pid;
  log(`bare proxy at ${bareUrl}`);

  const gatewayNodeFlags = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : [];
  const gatewayPort = await freePort();
  const configPath = join(workDir, 'gateway.yaml');
  writeFileSync(configPath, renderGatewayConfig(gatewayPort, upstreamUrl, args['log-level']));
  const gatewayLog = join(workDir, 'gateway.log');
  const gateway = spawnChild(
    node,
    [...gatewayNodeFlags, resolve(args['gateway-entry']), '--config', configPath],
    {
      env: childEnv,
      cwd: repoRoot,
      logFile: gatewayLog,
      captureStdout: false,
    },
  );
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  try {
    await waitReady(gatewayUrl, gateway, 60_000);
  } catch (err) {
    const tail = readFileSync(gatewayLog, 'utf8').trim().split('\n').slice(-15).join('\n');
    throw new Error(`${(err as Error).message}; last lines of ${relative(repoRoot, gatewayLog)}:\n${tail}`);
  }
  pids.gateway = gateway.pid;
  log(`gateway at ${gatewayUrl} (pid ${gateway.pid}, log level ${args['log-level']})`);

  const clientHeaders = ['anthropic-version: 2023-06-01', `authorization: Bearer ${token}`];
  const targets: Record<TargetName, Target> = {
    direct: {
      name: 'direct',
      url: upstreamUrl,
      headers: ['anthropic-version: 2023-06-01', `x-api-key: ${upstreamKey}`],
    },
    bare: { name: 'bare', url: bareUrl, headers: clientHeaders },
    gateway: { name: 'gateway', url: gatewayUrl, headers: clientHeaders },
  };
  for (const t of TARGETS) await sanityCheck(targets[t]);
  log('sanity checks passed (JSON and SSE answers through every target)');

  if (warmupS > 0) {
    log(`warm-up ${warmupS} s per target and kind`);
    const maxConns = Math.max(...connectionCounts);
    for (const t of TARGETS) {
      await runWrk(targets[t], maxConns, warmupS);
      await runTtfb(targets[t], maxConns, warmupS);
    }
  }

  const measurements: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length] as TargetName);
    let position = 0;
    for (const s of scenarios) {
      for (const t of order) {
        measurements.push(await measure(targets[t], s, round, position++));
        await sleep(200);
      }
    }
  }

  const { summaries, overallCpu } = summarise(measurements);
  const warnings: string[] = [];
  const failed = measurements.filter((m) => m.errors > 0);
  if (failed.length > 0) {
    warnings.push(
      `${failed.length} measurement(s) had errors, e.g. ${failed[0]?.target} ${failed[0]?.scenario}: ${failed[0]?.firstError}`,
    );
  }
  for (const s of summaries) {
    if (s.addedRatio.p50 === null) {
      warnings.push(
        `${s.scenario.id}: the bare proxy's added p50 is not positive, so the ratio is undefined (noise).`,
      );
    }
  }
  if (quick) warnings.push('Quick smoke run: too short to draw conclusions.');

  const machine = {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    kernel: os.release(),
    loadAvgStart,
    loadAvgEnd: os.loadavg(),
    wrk: wrkVersion,
  };
  const gitCommit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
  const parameters = {
    rounds,
    durationS,
    warmupS,
    connections: connectionCounts,
    upstream: args.upstream,
    eventDelayMs,
    gatewayLogLevel: args['log-level'],
    database: args.database ? 'given by --database' : 'PGlite in bench/tmp',
    wrk: 'wrk -t1 --timeout 10s -s bench/wrk/post.lua (non-streaming)',
    ttfbClient: 'bench/ttfb-client.ts (undici Pool, one process)',
    targetRatio: TARGET_RATIO,
  };
  const rss = measurements.map((m) => m.gatewayRssBytes).filter((b): b is number => b !== null);
  const gatewayMaxRssBytes = rss.length > 0 ? Math.max(...rss) : null;
  const result = {
    stamp,
    gitCommit: gitCommit.status === 0 ? gitCommit.stdout.trim() : null,
    machine,
    parameters,
    notes: [
      'Added latency = target percentile − direct percentile in the same round; medians over rounds.',
      `Gateway log level ${args['log-level']} (info logs one line per request and costs CPU).`,
      'Ratios are reported, never asserted. Loopback only; load generator, upstream and proxies share the machine.',
    ],
    summaries,
    overallCpu,
    gatewayMaxRssBytes,
    warnings,
    measurements,
  };

  mkdirSync(args.out, { recursive: true });
  const base = freeResultBase(args.out, `${stamp}${quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const markdown = renderMarkdown({
    stamp,
    machine,
    parameters,
    summaries,
    overallCpu,
    gatewayMaxRssBytes,
    targetRatio: TARGET_RATIO,
    warnings,
  });
  writeFileSync(`${base}.md`, markdown);
  process.stdout.write(`\n${markdown}\n`);
  log(`wrote ${relative(repoRoot, `${base}.json`)} and ${relative(repoRoot, `${base}.md`)}`);
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  // After Ctrl-C the load generators die with the servers; their failure is not news.
  if (!wasInterrupted()) console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  exitCode = wasInterrupted() ? 130 : 1;
} finally {
  await stopAll(5000);
}
if (exitCode === 0 && !args['keep-tmp'] && !args['cpu-prof']) {
  // The work dir holds the rendered config, logs and the PGlite database (tens of MB): keep it only on failure.
  rmSync(workDir, { recursive: true, force: true });
} else {
  console.error(`[bench] logs and config kept in ${relative(repoRoot, workDir)}`);
}
process.exit(exitCode);
