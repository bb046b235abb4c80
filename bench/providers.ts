#!/usr/bin/env node
/**
 * Streaming through each provider kind (issue 4): time to first content and throughput of the reference gateway in
 * front of the conformance kit's Anthropic, Bedrock and Vertex mocks, against a bare undici pass-through in front of
 * the same mock as the floor, both relative to a direct call in the same round. See bench/README.md.
 *
 *   npm run bench:providers [-- --rounds 9 --duration 1 --warmup 1 --connections 1,16 --rates 200
 *                              --interleaved c1,c16,r200 --kinds anthropic,bedrock,vertex --bedrock-auth api-key|sigv4
 *                              --quick --log-level warn --database <url> --out bench/results --keep-tmp]
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
  nodeFlagArgs,
  runToEnd,
  sleep,
  spawnChild,
  stopAll,
  stopChildrenOnExitAndSignals,
} from './lib/children.ts';
import { cpuMicros, cpuMicrosNamed, rssBytes } from './lib/proc.ts';
import { freeResultBase, runStamp } from './lib/results.ts';
import { median, ratio } from './lib/stats.ts';
import type { Percentiles } from './lib/types.ts';

const TARGET_RATIO = 1.5;
/** Paced loads: the most streams in flight (a start that finds them all busy waits and counts as late). */
const PACED_MAX_IN_FLIGHT = 64;
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    quick: { type: 'boolean', default: false },
    connections: { type: 'string', default: '1,16' },
    rates: { type: 'string', default: '200' },
    interleaved: { type: 'string', default: 'c1,c16,r200' },
    'bedrock-auth': { type: 'string', default: 'api-key' },
    kinds: { type: 'string', default: 'anthropic,bedrock,vertex' },
    'log-level': { type: 'string', default: 'warn' },
    database: { type: 'string' },
    out: { type: 'string', default: join(benchDir, 'results') },
    'keep-tmp': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench:providers -- [options]
  --rounds N          rounds of every kind × scenario × target (default 9; --quick: 1)
  --duration S        seconds per measurement (default 1)
  --warmup S          warm-up seconds per target (default 1)
  --connections LIST  closed loop: streams kept in flight (default 1,16)
  --rates LIST        paced: streams started per second, open loop, at most ${PACED_MAX_IN_FLIGHT} in flight (default 200;
                      "" for none)
  --interleaved LIST  loads also measured with the three targets interleaved request by request in one client
                      (cN or rN; N is then over all three; default c1,c16,r200; "" for none)
  --bedrock-auth A    how the gateway authenticates to the Bedrock mock: api-key (default; what the direct call and
                      the bare proxy use, so all three cost the mock the same) or sigv4 (the mock verifies signatures)
  --kinds LIST        provider kinds (default anthropic,bedrock,vertex)
  --quick             smoke run; result files get a "-quick" suffix
  --log-level LEVEL   gateway log.level (default warn)
  --database URL      gateway database (default PGlite in bench/tmp/<run>/db)
  --out DIR           where results go (default bench/results)
  --keep-tmp          keep bench/tmp/<run> after a successful run
  --cpu-prof          write a V8 CPU profile of the gateway into bench/tmp/<run>/ (implies --keep-tmp)
  --node-flags=F      extra Node/V8 flags for the gateway, e.g. --node-flags=--max-semi-space-size=8`);
  process.exit(0);
}

type Kind = 'anthropic' | 'bedrock' | 'vertex';
type TargetName = 'direct' | 'bare' | 'gateway';
const TARGETS: TargetName[] = ['direct', 'bare', 'gateway'];
const quick = args.quick;
// Many short rounds rather than a few long ones: the median over nine resists a slow spell of the shared machine
// better than over three (the bare proxy's added time, a few hundred microseconds, moved by 2× between 3-round runs).
const rounds = Number(args.rounds ?? (quick ? 1 : 9));
const durationS = Number(args.duration ?? 1);
const warmupS = Number(args.warmup ?? 1);
const connectionCounts = args.connections
  .split(',')
  .filter((c) => c.trim() !== '')
  .map((c) => Number(c.trim()));
const rates = args.rates
  .split(',')
  .filter((r) => r.trim() !== '')
  .map((r) => Number(r.trim()));
/**
 * One load: closed loop with N in flight (`c16`), or paced at N streams a second (`r200`). Interleaved (`c1i`,
 * `c16i`, `r200i`): the three targets share one client, which sends to them in turn (bench/lib/content-client.ts),
 * so they are measured under the same machine conditions instead of one after the other; N is then over all three
 * (`c16i`: 16 streams in flight in all, `r200i`: 200 started a second in all).
 */
interface Load {
  label: string;
  connections: number;
  rate: number | null;
  interleaved: boolean;
}
const loads: Load[] = [
  ...connectionCounts.map((c) => ({ label: `c${c}`, connections: c, rate: null, interleaved: false })),
  ...rates.map((r) => ({ label: `r${r}`, connections: PACED_MAX_IN_FLIGHT, rate: r, interleaved: false })),
];
const interleavedLoads: Load[] = [];
for (const spec of args.interleaved.split(',').map((l) => l.trim())) {
  if (spec === '') continue;
  const m = /^([cr])([1-9]\d*)$/.exec(spec);
  if (!m) {
    console.error(`invalid --interleaved: ${spec} (cN or rN)`);
    process.exit(2);
  }
  const n = Number(m[2]);
  interleavedLoads.push(
    m[1] === 'c'
      ? { label: `c${n}i`, connections: n, rate: null, interleaved: true }
      : { label: `r${n}i`, connections: PACED_MAX_IN_FLIGHT, rate: n, interleaved: true },
  );
}
loads.push(...interleavedLoads);
const bedrockAuth = args['bedrock-auth'];
const nodeFlags = nodeFlagArgs(args['node-flags']);
if (bedrockAuth !== 'api-key' && bedrockAuth !== 'sigv4') {
  console.error('--bedrock-auth: api-key or sigv4');
  process.exit(2);
}
const kinds = args.kinds.split(',').map((k) => k.trim()) as Kind[];
for (const k of kinds) {
  if (!['anthropic', 'bedrock', 'vertex'].includes(k)) {
    console.error(`invalid --kinds: ${k}`);
    process.exit(2);
  }
}
for (const v of [rounds, durationS, ...connectionCounts, ...rates]) {
  if (!Number.isInteger(v) || v <= 0) {
    console.error('--rounds, --duration, --connections and --rates take whole numbers above 0');
    process.exit(2);
  }
}

const stamp = runStamp();
const workDir = join(benchDir, 'tmp', `${stamp}-providers-${randomBytes(3).toString('hex')}`);
mkdirSync(workDir, { recursive: true });

const secrets = {
  token: `ocg_bench_${randomBytes(16).toString('hex')}`,
  anthropicKey: `sk-ant-bench-${randomBytes(8).toString('hex')}`,
  awsKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  awsSecret: randomBytes(30).toString('base64'),
  bedrockApiKey: `ABSK${randomBytes(24).toString('base64')}`,
  vertexToken: `ya29.bench-${randomBytes(18).toString('base64url')}`,
};
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  OCG_BENCH_TOKEN: secrets.token,
  OCG_BENCH_UPSTREAM_KEY: secrets.anthropicKey,
  OCG_BENCH_AWS_KEY_ID: secrets.awsKeyId,
  OCG_BENCH_AWS_SECRET: secrets.awsSecret,
  OCG_BENCH_BEDROCK_API_KEY: secrets.bedrockApiKey,
  OCG_BENCH_VERTEX_TOKEN: secrets.vertexToken,
  OCG_BENCH_DATABASE_URL: args.database ?? `pglite://${join(workDir, 'db')}`,
};
delete childEnv.DATABASE_URL;
delete childEnv.OCG_CONFIG;
const node = process.execPath;

const BEDROCK_MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const VERTEX_MODEL = 'claude-sonnet-4-5@20250929';
const VERTEX_PROJECT = 'ocg-bench';
const VERTEX_REGION = 'us-east5';
/** The catalogue model the gateway routes to each kind (one target each, so no failover is involved). */
const GATEWAY_MODEL: Record<Kind, string> = {
  anthropic: 'claude-sonnet-4-5',
  bedrock: 'bench-bedrock-sonnet-4-5',
  vertex: 'bench-vertex-sonnet-4-5',
};
const message = {
  max_tokens: 256,
  messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
};

/** What a direct call to each provider looks like: path, body, credential and wire format. */
function providerCall(kind: Kind): {
  path: string;
  body: unknown;
  auth: string;
  format: 'sse' | 'eventstream';
} {
  switch (kind) {
    case 'anthropic':
      return {
        path: '/v1/messages',
        body: { model: 'claude-sonnet-4-5', ...message, stream: true },
        auth: `x-api-key: ${secrets.anthropicKey}`,
        format: 'sse',
      };
    case 'bedrock':
      return {
        path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/invoke-with-response-stream`,
        body: { anthropic_version: 'bedrock-2023-05-31', ...message },
        auth: `authorization: Bearer ${secrets.bedrockApiKey}`,
        format: 'eventstream',
      };
    case 'vertex':
      return {
        path: `/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_REGION}/publishers/anthropic/models/${encodeURIComponent(VERTEX_MODEL)}:streamRawPredict`,
        body: { anthropic_version: 'vertex-2023-10-16', ...message, stream: true },
        auth: `authorization: Bearer ${secrets.vertexToken}`,
        format: 'sse',
      };
  }
}

function renderGatewayConfig(port: number, mockUrls: Partial<Record<Kind, string>>): string {
  const upstreams: string[] = [];
  const models: string[] = [];
  if (mockUrls.anthropic) {
    upstreams.push(
      `  - { name: anthropic, kind: anthropic, baseUrl: '${mockUrls.anthropic}', apiKey: '\${env:OCG_BENCH_UPSTREAM_KEY}' }`,
    );
    models.push(
      `  - { id: ${GATEWAY_MODEL.anthropic}, displayName: Claude Sonnet 4.5, targets: [{ upstream: anthropic }] }`,
    );
  }
  if (mockUrls.bedrock) {
    upstreams.push(`  - name: bedrock
    kind: bedrock
    region: us-east-1
    baseUrl: '${mockUrls.bedrock}'
    auth: ${
      bedrockAuth === 'sigv4'
        ? `{ type: sigv4, accessKeyId: '\${env:OCG_BENCH_AWS_KEY_ID}', secretAccessKey: '\${env:OCG_BENCH_AWS_SECRET}' }`
        : `{ type: api-key, apiKey: '\${env:OCG_BENCH_BEDROCK_API_KEY}' }`
    }`);
    models.push(
      `  - { id: ${GATEWAY_MODEL.bedrock}, displayName: Sonnet via Bedrock, targets: [{ upstream: bedrock, model: '${BEDROCK_MODEL}' }] }`,
    );
  }
  if (mockUrls.vertex) {
    upstreams.push(`  - name: vertex
    kind: vertex
    region: ${VERTEX_REGION}
    projectId: ${VERTEX_PROJECT}
    baseUrl: '${mockUrls.vertex}/v1'
    auth: { type: access-token, token: '\${env:OCG_BENCH_VERTEX_TOKEN}' }`);
    models.push(
      `  - { id: ${GATEWAY_MODEL.vertex}, displayName: Sonnet via Vertex, targets: [{ upstream: vertex, model: '${VERTEX_MODEL}' }] }`,
    );
  }
  return `# Rendered by bench/providers.ts
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
${upstreams.join('\n')}
models:
${models.join('\n')}
policies:
  - { name: everyone, match: { everyone: true }, models: ['*'] }
log:
  level: ${args['log-level']}
`;
}

const wasInterrupted = stopChildrenOnExitAndSignals();
const log = (msg: string): void => {
  process.stderr.write(`[bench:providers] ${msg}\n`);
};

interface Target {
  kind: Kind;
  name: TargetName;
  url: string;
  path: string;
  bodyFile: string;
  headers: string[];
  format: 'sse' | 'eventstream';
}

interface Measurement {
  round: number;
  kind: Kind;
  /** `c<N>` closed loop, `r<N>` paced. */
  load: string;
  connections: number;
  rate: number | null;
  target: TargetName;
  firstContentUs: Percentiles;
  totalUs: Percentiles;
  requests: number;
  errors: number;
  /** Paced loads: starts that found every in-flight slot busy. */
  late: number;
  firstError: string | null;
  requestsPerSecond: number;
  cpuUsPerRequest: { mock: number | null; bare: number | null; gateway: number | null };
  /**
   * CPU of every local `postgres` process per stream during the measurement (the gateway's request records), when
   * `--database` is a PostgreSQL on this machine; null otherwise (PGlite's work is in the gateway's own figure).
   */
  databaseCpuUsPerRequest: number | null;
}

/** `--database` is a PostgreSQL server on this machine: its processes' CPU can be read from /proc. */
const localPostgres =
  args.database !== undefined &&
  /^postgres(ql)?:\/\/([^@/]*@)?(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//i.test(args.database);

const pids: { mock: Partial<Record<Kind, number>>; bare: Partial<Record<Kind, number>>; gateway?: number } = {
  mock: {},
  bare: {},
};

/** What content-client.ts reports for one target. */
interface ClientResult {
  firstContentUs: Percentiles;
  totalUs: Percentiles;
  requests: number;
  errors: number;
  firstError: string | null;
}

/**
 * Runs the content client against one target, or against several interleaved request by request (their results by
 * target name).
 */
async function runClient(ts: Target[], load: Pick<Load, 'connections' | 'rate'>, seconds: number) {
  const clientArgs = [join(benchDir, 'lib', 'content-client.ts')];
  const one = ts.length === 1 ? (ts[0] as Target) : null;
  if (one) {
    clientArgs.push(
      '--url',
      one.url,
      '--path',
      one.path,
      '--body-file',
      one.bodyFile,
      '--format',
      one.format,
    );
    for (const h of one.headers) clientArgs.push('--header', h);
  } else {
    const file = join(workDir, `targets-${ts.map((t) => `${t.kind}-${t.name}`).join('-')}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        ts.map((t) => ({
          name: t.name,
          url: t.url,
          path: t.path,
          bodyFile: t.bodyFile,
          format: t.format,
          headers: t.headers,
        })),
      ),
    );
    clientArgs.push('--targets-file', file);
  }
  clientArgs.push('--connections', String(load.connections), '--duration', String(seconds));
  if (load.rate !== null) clientArgs.push('--rate', String(load.rate));
  const { code, stdout, stderr } = await runToEnd(node, clientArgs, { env: childEnv });
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`content client failed (code ${code}): ${stderr.trim()}`);
  const parsed = JSON.parse(line) as (ClientResult | { targets: Record<string, ClientResult> }) & {
    late: number;
    durationUs: number;
  };
  const byTarget = new Map<TargetName, ClientResult>(
    'targets' in parsed
      ? Object.entries(parsed.targets).map(([name, r]) => [name as TargetName, r])
      : [[(one as Target).name, parsed]],
  );
  return { byTarget, late: parsed.late, durationUs: parsed.durationUs };
}

/**
 * One measurement of `load`: of one target, or of all three interleaved in one client run (3 × `--duration`, so that
 * each gets about as many streams as alone). CPU per stream: the mock's over every stream of the run, the bare
 * proxy's and the gateway's (and the database's) over the streams that went through them.
 */
async function measure(ts: Target[], load: Load, round: number): Promise<Measurement[]> {
  const kind = (ts[0] as Target).kind;
  const read = () => ({
    mock: cpuMicros(pids.mock[kind]),
    bare: cpuMicros(pids.bare[kind]),
    gateway: cpuMicros(pids.gateway),
    database: localPostgres ? cpuMicrosNamed('postgres') : null,
  });
  const before = read();
  const r = await runClient(ts, load, durationS * ts.length);
  const after = read();
  const all = [...r.byTarget.values()].reduce((n, x) => n + x.requests, 0);
  const out: Measurement[] = [];
  for (const t of ts) {
    const own = r.byTarget.get(t.name);
    if (!own) throw new Error(`content client reported nothing for ${t.kind} ${t.name}`);
    const streamsThrough = (name: TargetName) => (r.byTarget.get(name) ?? own).requests;
    const per = (k: 'mock' | 'bare' | 'gateway' | 'database') => {
      const a = after[k];
      const b = before[k];
      const n = k === 'mock' ? all : streamsThrough(k === 'database' ? 'gateway' : k);
      return a === null || b === null || n === 0 ? null : (a - b) / n;
    };
    const m: Measurement = {
      round,
      kind,
      load: load.label,
      connections: load.connections,
      rate: load.rate,
      target: t.name,
      firstContentUs: own.firstContentUs,
      totalUs: own.totalUs,
      requests: own.requests,
      errors: own.errors,
      late: r.late,
      firstError: own.firstError,
      requestsPerSecond: r.durationUs > 0 ? (own.requests * 1e6) / r.durationUs : 0,
      cpuUsPerRequest: { mock: per('mock'), bare: per('bare'), gateway: per('gateway') },
      databaseCpuUsPerRequest: per('database'),
    };
    log(
      `round ${round} ${kind.padEnd(9)} ${load.label.padEnd(6)} ${t.name.padEnd(7)} first content p50 ` +
        `${(m.firstContentUs.p50 / 1000).toFixed(3)} ms p99 ${(m.firstContentUs.p99 / 1000).toFixed(3)} ms  ` +
        `${Math.round(m.requestsPerSecond)} streams/s` +
        (t.name === 'direct'
          ? ''
          : `  cpu ${Math.round(m.cpuUsPerRequest[t.name] ?? Number.NaN)} µs/stream`) +
        (t.name === 'gateway' && m.databaseCpuUsPerRequest !== null
          ? ` + database ${Math.round(m.databaseCpuUsPerRequest)}`
          : '') +
        (m.late > 0 ? `  late starts ${m.late}` : '') +
        (m.errors > 0 ? `  ERRORS ${m.errors}: ${m.firstError}` : ''),
    );
    out.push(m);
  }
  return out;
}

interface Summary {
  kind: Kind;
  load: string;
  targets: Record<
    TargetName,
    {
      firstContentP50Us: number | null;
      firstContentP99Us: number | null;
      totalP50Us: number | null;
      addedP50Us: number | null;
      addedP99Us: number | null;
      streamsPerSecond: number | null;
      proxyCpuUsPerStream: number | null;
      /** Local PostgreSQL's CPU per stream (null: not measured). */
      databaseCpuUsPerStream: number | null;
    }
  >;
  ratioP50: number | null;
  ratioP99: number | null;
  cpuRatio: number | null;
  /** (gateway + local PostgreSQL) CPU per stream ÷ the bare proxy's; null when the database was not measured. */
  cpuRatioWithDatabase: number | null;
  throughputRatio: number | null;
  target: 'met' | 'not met' | 'n/a';
}

function summarise(ms: Measurement[]): Summary[] {
  const out: Summary[] = [];
  for (const kind of kinds) {
    for (const load of loads) {
      const of = (t: TargetName) =>
        ms.filter((m) => m.kind === kind && m.load === load.label && m.target === t);
      const direct = new Map(of('direct').map((m) => [m.round, m]));
      const summary = (t: TargetName) => {
        const xs = of(t);
        const added = (p: 'p50' | 'p99') =>
          t === 'direct'
            ? 0
            : median(
                xs.map((m) => {
                  const d = direct.get(m.round);
                  return d ? m.firstContentUs[p] - d.firstContentUs[p] : null;
                }),
              );
        return {
          firstContentP50Us: median(xs.map((m) => m.firstContentUs.p50)),
          firstContentP99Us: median(xs.map((m) => m.firstContentUs.p99)),
          totalP50Us: median(xs.map((m) => m.totalUs.p50)),
          addedP50Us: added('p50'),
          addedP99Us: added('p99'),
          streamsPerSecond: median(xs.map((m) => m.requestsPerSecond)),
          proxyCpuUsPerStream: t === 'direct' ? null : median(xs.map((m) => m.cpuUsPerRequest[t])),
          databaseCpuUsPerStream: median(xs.map((m) => m.databaseCpuUsPerRequest)),
        };
      };
      const targets = { direct: summary('direct'), bare: summary('bare'), gateway: summary('gateway') };
      const ratioP50 = ratio(targets.gateway.addedP50Us, targets.bare.addedP50Us);
      out.push({
        kind,
        load: load.label,
        targets,
        ratioP50,
        ratioP99: ratio(targets.gateway.addedP99Us, targets.bare.addedP99Us),
        cpuRatio: ratio(targets.gateway.proxyCpuUsPerStream, targets.bare.proxyCpuUsPerStream),
        cpuRatioWithDatabase:
          targets.gateway.databaseCpuUsPerStream === null || targets.gateway.proxyCpuUsPerStream === null
            ? null
            : ratio(
                targets.gateway.proxyCpuUsPerStream + targets.gateway.databaseCpuUsPerStream,
                targets.bare.proxyCpuUsPerStream,
              ),
        throughputRatio: ratio(targets.gateway.streamsPerSecond, targets.bare.streamsPerSecond),
        target: ratioP50 === null ? 'n/a' : ratioP50 <= TARGET_RATIO ? 'met' : 'not met',
      });
    }
  }
  return out;
}

const ms = (us: number | null) => (us === null ? '—' : (us / 1000).toFixed(3));
const x = (r: number | null) => (r === null ? 'n/a' : `${r.toFixed(2)}×`);
const num = (v: number | null, digits = 0) => (v === null ? '—' : v.toFixed(digits));

function renderMarkdown(
  summaries: Summary[],
  machine: Record<string, unknown> & { loadAvgStart: number[]; loadAvgEnd: number[] },
  warnings: string[],
): string {
  const lines = [
    `# Streaming through each provider kind — ${stamp}${quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; load average at start ` +
      `${machine.loadAvgStart.map((l) => l.toFixed(2)).join(' / ')}, at end ${machine.loadAvgEnd.map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min; the machine is shared).`,
    `Parameters: ${rounds} round(s) × ${durationS} s per measurement, loads ${loads.map((l) => l.label).join(', ')} ` +
      `(cN: N streams kept in flight, closed loop; rN: N streams started a second, open loop, at most ${PACED_MAX_IN_FLIGHT} in flight` +
      (interleavedLoads.length > 0
        ? `; ${interleavedLoads.map((l) => l.label).join(', ')}: the same with direct, bare and gateway interleaved request by request in one client, order rotating, N then being over all three (streams in flight, or started a second), ${durationS * TARGETS.length} s per measurement`
        : '') +
      '), ' +
      `the conformance kit's mocks with no artificial delay, gateway log level ${args['log-level']}, ` +
      `${args.database ? 'database given by --database' : 'embedded PGlite'}${nodeFlags.length > 0 ? `, gateway Node flags \`${nodeFlags.join(' ')}\`` : ''}, gateway → Bedrock mock auth ${bedrockAuth === 'sigv4' ? 'SigV4 (the direct call and the bare proxy use the Bedrock API key)' : 'Bedrock API key (as the direct call and the bare proxy)'}.`,
    '',
    'Time to first content = request sent → first `content_block_delta` received (the gateway holds `message_start` ' +
      'and `ping` back until then). Added = target − direct in the same round, median over rounds. ' +
      `Ratio = gateway added ÷ bare-proxy added; target ≤ ${TARGET_RATIO}× (reported, never asserted).` +
      (localPostgres
        ? ' Database CPU = all local `postgres` processes per gateway stream (the request records): it is not in the ' +
          "gateway's own figure but runs on the same cores."
        : ''),
    '',
    `| kind | load | direct p50 ms | bare added p50 ms | gateway added p50 ms | **ratio p50** | target | ratio p99 | streams/s direct / bare / gateway | CPU µs/stream bare / gateway (ratio) |${localPostgres ? ' database CPU µs/stream (gateway + database ÷ bare) |' : ''}`,
    `|---|---:|---:|---:|---:|---:|---|---:|---|---|${localPostgres ? '---|' : ''}`,
  ];
  for (const s of summaries) {
    const t = s.targets;
    lines.push(
      `| ${s.kind} | ${s.load} | ${ms(t.direct.firstContentP50Us)} | ${ms(t.bare.addedP50Us)} | ${ms(t.gateway.addedP50Us)} | ` +
        `**${x(s.ratioP50)}** | ${s.target} | ${x(s.ratioP99)} | ${num(t.direct.streamsPerSecond)} / ${num(t.bare.streamsPerSecond)} / ${num(t.gateway.streamsPerSecond)} | ` +
        `${num(t.bare.proxyCpuUsPerStream)} / ${num(t.gateway.proxyCpuUsPerStream)} (${x(s.cpuRatio)}) |` +
        (localPostgres ? ` ${num(t.gateway.databaseCpuUsPerStream)} (${x(s.cpuRatioWithDatabase)}) |` : ''),
    );
  }
  if (warnings.length > 0) lines.push('', '## Warnings', '', ...warnings.map((w) => `- ${w}`));
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const loadAvgStart = os.loadavg();
  const mockUrls: Partial<Record<Kind, string>> = {};
  const bareUrls: Partial<Record<Kind, string>> = {};
  for (const kind of kinds) {
    const mock = spawnChild(node, [join(benchDir, 'lib', 'provider-mock.ts'), '--kind', kind], {
      env: childEnv,
      logFile: join(workDir, `mock-${kind}.log`),
    });
    mockUrls[kind] = (await firstJsonLine<{ url: string }>(mock, `${kind} mock`)).url;
    pids.mock[kind] = mock.pid;
    const call = providerCall(kind);
    const bare = spawnChild(node, [join(benchDir, 'bare-proxy.ts'), '--upstream', mockUrls[kind] as string], {
      env: { ...childEnv, ...(kind === 'anthropic' ? {} : { OCG_BENCH_BARE_AUTH_HEADER: call.auth }) },
      logFile: join(workDir, `bare-${kind}.log`),
    });
    bareUrls[kind] = (await firstJsonLine<{ url: string }>(bare, `${kind} bare proxy`)).url;
    pids.bare[kind] = bare.pid;
    log(`${kind}: mock at ${mockUrls[kind]}, bare proxy at ${bareUrls[kind]}`);
  }

  const gatewayPort = await freePort();
  const configPath = join(workDir, 'gateway.yaml');
  writeFileSync(configPath, renderGatewayConfig(gatewayPort, mockUrls));
  const gatewayLog = join(workDir, 'gateway.log');
  const gateway = spawnChild(
    node,
    [
      ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${workDir}`] : []),
      ...nodeFlags,
      join(repoRoot, 'reference-impl', 'src', 'main.ts'),
      '--config',
      configPath,
    ],
    {
      env: childEnv,
      cwd: repoRoot,
      logFile: gatewayLog,
      captureStdout: false,
    },
  );
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gateway.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(gatewayLog, 'utf8').trim().split('\n').slice(-15).join('\n');
      throw new Error(
        `gateway did not become ready; last lines of ${relative(repoRoot, gatewayLog)}:\n${tail}`,
      );
    }
    try {
      if ((await fetch(`${gatewayUrl}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  pids.gateway = gateway.pid;
  log(`gateway at ${gatewayUrl} (pid ${gateway.pid})`);

  const targets = new Map<string, Target>();
  for (const kind of kinds) {
    const call = providerCall(kind);
    const providerBody = join(workDir, `body-${kind}.json`);
    writeFileSync(providerBody, JSON.stringify(call.body));
    const gatewayBody = join(workDir, `body-gateway-${kind}.json`);
    writeFileSync(gatewayBody, JSON.stringify({ model: GATEWAY_MODEL[kind], ...message, stream: true }));
    const version = kind === 'anthropic' ? ['anthropic-version: 2023-06-01'] : [];
    targets.set(`${kind}/direct`, {
      kind,
      name: 'direct',
      url: mockUrls[kind] as string,
      path: call.path,
      bodyFile: providerBody,
      headers: [...version, call.auth],
      format: call.format,
    });
    targets.set(`${kind}/bare`, {
      kind,
      name: 'bare',
      url: bareUrls[kind] as string,
      path: call.path,
      bodyFile: providerBody,
      headers: [...version, `authorization: Bearer ${secrets.token}`],
      format: call.format,
    });
    targets.set(`${kind}/gateway`, {
      kind,
      name: 'gateway',
      url: gatewayUrl,
      path: '/v1/messages',
      bodyFile: gatewayBody,
      headers: ['anthropic-version: 2023-06-01', `authorization: Bearer ${secrets.token}`],
      format: 'sse',
    });
  }

  // Sanity check and warm-up in one: every target must stream content without an error.
  const maxConns = Math.max(1, ...connectionCounts);
  for (const t of targets.values()) {
    const r = (
      await runClient([t], { connections: maxConns, rate: null }, Math.max(1, warmupS))
    ).byTarget.get(t.name);
    if (!r || r.errors > 0 || r.requests === 0) {
      throw new Error(`${t.kind} ${t.name}: warm-up failed (${r?.errors} errors): ${r?.firstError}`);
    }
  }
  log('every target streamed content in the warm-up');

  const measurements: Measurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length] as TargetName);
    for (const kind of kinds) {
      const of = (name: TargetName) => targets.get(`${kind}/${name}`) as Target;
      for (const load of loads) {
        if (load.interleaved) {
          // One client for all three, which rotates the order itself (the round's order only picks who leads).
          measurements.push(...(await measure(order.map(of), load, round)));
          await sleep(200);
          continue;
        }
        for (const name of order) {
          measurements.push(...(await measure([of(name)], load, round)));
          await sleep(200);
        }
      }
    }
  }

  const summaries = summarise(measurements);
  const warnings: string[] = [];
  const failed = measurements.filter((m) => m.errors > 0);
  if (failed.length > 0) {
    warnings.push(
      `${failed.length} measurement(s) had errors, e.g. ${failed[0]?.kind} ${failed[0]?.target}: ${failed[0]?.firstError}`,
    );
  }
  for (const s of summaries) {
    if (s.ratioP50 === null)
      warnings.push(`${s.kind} ${s.load}: the bare proxy's added p50 is not positive (noise): no ratio.`);
  }
  const lateRuns = measurements.filter((m) => m.late > 0);
  if (lateRuns.length > 0) {
    warnings.push(
      `${lateRuns.length} paced measurement(s) could not keep their rate (every in-flight slot busy), e.g. ` +
        `${lateRuns[0]?.kind} ${lateRuns[0]?.load} ${lateRuns[0]?.target}: ${lateRuns[0]?.late} late starts; that load was saturated.`,
    );
  }
  if (quick) warnings.push('Quick smoke run: too short to draw conclusions.');
  const machine = {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    kernel: os.release(),
    loadAvgStart,
    loadAvgEnd: os.loadavg(),
  };
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
  const result = {
    stamp,
    gitCommit: git.status === 0 ? git.stdout.trim() : null,
    machine,
    parameters: {
      rounds,
      durationS,
      warmupS,
      connections: connectionCounts,
      rates,
      interleaved: interleavedLoads.map((l) => l.label),
      pacedMaxInFlight: PACED_MAX_IN_FLIGHT,
      bedrockAuth,
      gatewayNodeFlags: nodeFlags,
      kinds,
      mocks:
        'conformance kit startMockAnthropic / startMockBedrock (SigV4 verified) / startMockVertex, default answers, no delay',
      gatewayAuth: {
        anthropic: 'x-api-key',
        bedrock: bedrockAuth === 'sigv4' ? 'sigv4 (static keys)' : 'Bedrock API key (Bearer)',
        vertex: 'access-token',
      },
      bareProxyAuth: {
        anthropic: 'x-api-key',
        bedrock: 'Bedrock API key (Bearer)',
        vertex: 'Bearer access token',
      },
      gatewayLogLevel: args['log-level'],
      database: args.database ? 'given by --database' : 'PGlite in bench/tmp',
      databaseCpuMeasured: localPostgres,
      client: 'bench/lib/content-client.ts (undici Pool, one process): time to first content_block_delta',
      targetRatio: TARGET_RATIO,
    },
    summaries,
    gatewayRssBytesAtEnd: rssBytes(pids.gateway),
    warnings,
    measurements,
  };
  mkdirSync(args.out, { recursive: true });
  const base = freeResultBase(args.out, `${stamp}-providers${quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const markdown = renderMarkdown(summaries, machine, warnings);
  writeFileSync(`${base}.md`, markdown);
  process.stdout.write(`\n${markdown}\n`);
  log(`wrote ${relative(repoRoot, `${base}.json`)} and ${relative(repoRoot, `${base}.md`)}`);
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  if (!wasInterrupted()) console.error(`[bench:providers] failed: ${(err as Error).stack ?? err}`);
  exitCode = wasInterrupted() ? 130 : 1;
} finally {
  await stopAll(5000);
}
if (exitCode === 0 && !args['keep-tmp'] && !args['cpu-prof'])
  rmSync(workDir, { recursive: true, force: true });
else console.error(`[bench:providers] logs and config kept in ${relative(repoRoot, workDir)}`);
process.exit(exitCode);
