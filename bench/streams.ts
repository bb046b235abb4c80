#!/usr/bin/env node
/**
 * Many open streams through one gateway process (issue 4): the gateway's memory per open stream and its CPU time
 * while 1,000 streams stay open, each carrying one small event a second. Loopback only; bounded in time and count.
 * See bench/README.md.
 *
 *   npm run bench:streams [-- --streams 1000 --hold-s 20 --interval-ms 1000 --warmup-streams 100 --quick
 *                            --log-level warn --database <url> --out bench/results --keep-tmp]
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  firstJsonLine,
  freePort,
  nodeFlagArgs,
  sleep,
  spawnChild,
  stopAll,
  stopChildrenOnExitAndSignals,
} from './lib/children.ts';
import { cpuMicros, rssBytes } from './lib/proc.ts';
import { freeResultBase, runStamp } from './lib/results.ts';
import { median } from './lib/stats.ts';

const TARGET_BYTES_PER_STREAM = 64 * 1024;
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string' },
    'hold-s': { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
    'warmup-streams': { type: 'string', default: '100' },
    quick: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    database: { type: 'string' },
    out: { type: 'string', default: join(benchDir, 'results') },
    'keep-tmp': { type: 'boolean', default: false },
    'heap-snapshots': { type: 'boolean', default: false },
    target: { type: 'string', default: 'gateway' },
    'node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench:streams -- [options]
  --streams N          concurrent open streams (default 1000; --quick: 100)
  --hold-s S           seconds the streams stay open once all are open (default 20; --quick: 5)
  --interval-ms N      the upstream sends one small event per stream this often (default 1000)
  --warmup-streams N   streams opened and closed before the baseline reading (default 100)
  --quick              smoke run; result files get a "-quick" suffix
  --log-level LEVEL    gateway log.level (default warn)
  --database URL       gateway database (default PGlite in bench/tmp/<run>/db)
  --out DIR            where results go (default bench/results)
  --keep-tmp           keep bench/tmp/<run> after a successful run
  --target T           gateway (default) | bare: the bare undici pass-through instead, the floor; files get "-bare"
  --node-flags=F       extra Node/V8 flags for the measured process, e.g. --node-flags=--max-semi-space-size=1
  --heap-snapshots     also write a V8 heap snapshot of the gateway at each reading into bench/tmp/<run>/
                       (diagnosis only: slow, large; implies --keep-tmp)`);
  process.exit(0);
}
const quick = args.quick;
const streams = Number(args.streams ?? (quick ? 100 : 1000));
const holdS = Number(args['hold-s'] ?? (quick ? 5 : 20));
const intervalMs = Number(args['interval-ms']);
const warmupStreams = Number(args['warmup-streams']);
const target = args.target === 'bare' ? 'bare' : 'gateway';
if (args.target !== target) {
  console.error('--target: gateway or bare');
  process.exit(2);
}
const subject = target === 'bare' ? 'bare proxy' : 'gateway';
const nodeFlags = nodeFlagArgs(args['node-flags']);
for (const v of [streams, holdS, intervalMs]) {
  if (!Number.isInteger(v) || v <= 0) {
    console.error('--streams, --hold-s and --interval-ms take whole numbers above 0');
    process.exit(2);
  }
}

const stamp = runStamp();
const workDir = join(benchDir, 'tmp', `${stamp}-streams-${randomBytes(3).toString('hex')}`);
mkdirSync(workDir, { recursive: true });
const token = `ocg_bench_${randomBytes(16).toString('hex')}`;
const heapFile = join(workDir, 'heap.json');
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  OCG_BENCH_TOKEN: token,
  OCG_BENCH_UPSTREAM_KEY: `sk-ant-bench-${randomBytes(8).toString('hex')}`,
  OCG_BENCH_DATABASE_URL: args.database ?? `pglite://${join(workDir, 'db')}`,
  OCG_BENCH_HEAP_FILE: heapFile,
  ...(args['heap-snapshots'] ? { OCG_BENCH_HEAP_SNAPSHOTS: '1' } : {}),
};
delete childEnv.DATABASE_URL;
delete childEnv.OCG_CONFIG;
const node = process.execPath;

const wasInterrupted = stopChildrenOnExitAndSignals();
const log = (msg: string): void => {
  process.stderr.write(`[bench:streams] ${msg}\n`);
};

/**
 * File descriptors: the gateway holds two sockets per stream (client and upstream), the client and the upstream one
 * each. When the soft limit is too low and the hard limit allows, children are started through `sh -c 'ulimit -n …'`.
 */
function fdLimits(): { soft: number; hard: number; needed: number; raiseTo: number | null; note: string } {
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [softText, hardText] = r.stdout.trim().split('\n');
  const parse = (t: string | undefined) => (t === 'unlimited' ? Number.POSITIVE_INFINITY : Number(t));
  const soft = parse(softText);
  const hard = parse(hardText);
  const needed = 2 * streams + 512;
  if (soft >= needed) return { soft, hard, needed, raiseTo: null, note: `ulimit -n ${soft} is enough` };
  if (hard >= needed)
    return {
      soft,
      hard,
      needed,
      raiseTo: needed,
      note: `ulimit -n raised from ${soft} to ${needed} for the children`,
    };
  return {
    soft,
    hard,
    needed,
    raiseTo: hard,
    note: `ulimit -n hard limit ${hard} < ${needed} needed: streams beyond it will fail`,
  };
}
const fd = fdLimits();
function spawnLimited(args: string[], opts: Parameters<typeof spawnChild>[2]): ChildProcess {
  if (fd.raiseTo === null) return spawnChild(node, args, opts);
  return spawnChild('sh', ['-c', `ulimit -n ${fd.raiseTo} && exec "$0" "$@"`, node, ...args], opts);
}

function renderGatewayConfig(port: number, upstreamUrl: string): string {
  return `# Rendered by bench/streams.ts
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
  level: ${args['log-level']}
`;
}

interface Heap {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The gateway's memory after a full GC (bench/lib/heap-probe.ts), plus its RSS from /proc right after. */
async function probe(pid: number): Promise<Heap & { procRss: number | null }> {
  const since = Date.now();
  process.kill(pid, 'SIGUSR2');
  const deadline = since + (args['heap-snapshots'] ? 120_000 : 10_000);
  while (Date.now() < deadline) {
    if (existsSync(heapFile)) {
      try {
        const h = JSON.parse(readFileSync(heapFile, 'utf8')) as Heap & { at: number };
        if (h.at >= since) {
          const { at: _at, ...heap } = h;
          return { ...heap, procRss: rssBytes(pid) };
        }
      } catch {
        // being written
      }
    }
    await sleep(50);
  }
  throw new Error('the gateway did not answer the heap probe (SIGUSR2) within 10 s');
}

/** Starts the hold client and yields its JSON lines as they come. */
function startClient(
  n: number,
  hold: number,
): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = spawnLimited(
    [
      join(benchDir, 'lib', 'hold-client.ts'),
      '--url',
      gatewayUrl,
      '--streams',
      String(n),
      '--hold-s',
      String(hold),
      '--header',
      'anthropic-version: 2023-06-01',
      '--header',
      `authorization: Bearer ${token}`,
    ],
    { env: childEnv, logFile: join(workDir, `client-${n}.log`) },
  );
  const lines: Record<string, unknown>[] = [];
  const waiters: ((v: Record<string, unknown>) => void)[] = [];
  let exited = false;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      const w = waiters.shift();
      if (w) w(v);
      else lines.push(v);
    } catch {
      // not ours
    }
  });
  child.once('exit', () => {
    exited = true;
    for (const w of waiters.splice(0)) w({ event: 'exit' });
  });
  return {
    child,
    next: () =>
      new Promise((res) => {
        const v = lines.shift();
        if (v) res(v);
        else if (exited) res({ event: 'exit' });
        else waiters.push(res);
      }),
  };
}

let gatewayUrl = '';
const kib = (b: number | null) => (b === null ? '—' : (b / 1024).toFixed(1));
const mib = (b: number | null) => (b === null ? '—' : (b / 1024 / 1024).toFixed(1));

async function main(): Promise<number> {
  const loadAvgStart = os.loadavg();
  log(`${fd.note}`);
  const upstream = spawnLimited(
    [
      join(benchDir, 'lib', 'hold-upstream.ts'),
      '--interval-ms',
      String(intervalMs),
      '--max-s',
      String(holdS + 60),
    ],
    { env: childEnv, logFile: join(workDir, 'upstream.log') },
  );
  const { url: upstreamUrl } = await firstJsonLine<{ url: string }>(upstream, 'upstream');
  let pid: number;
  if (target === 'bare') {
    // The floor: the bare undici pass-through (bench/bare-proxy.ts) with the same probe, in front of the same upstream.
    const bare = spawnLimited(
      [
        '--expose-gc',
        ...nodeFlags,
        '--import',
        join(benchDir, 'lib', 'heap-probe.ts'),
        join(benchDir, 'bare-proxy.ts'),
        '--upstream',
        upstreamUrl,
      ],
      { env: childEnv, logFile: join(workDir, 'bare-proxy.log') },
    );
    gatewayUrl = (await firstJsonLine<{ url: string }>(bare, 'bare proxy')).url;
    pid = bare.pid as number;
  } else {
    const port = await freePort();
    const configPath = join(workDir, 'gateway.yaml');
    writeFileSync(configPath, renderGatewayConfig(port, upstreamUrl));
    const gatewayLog = join(workDir, 'gateway.log');
    const gateway = spawnLimited(
      [
        '--expose-gc',
        ...nodeFlags,
        '--import',
        join(benchDir, 'lib', 'heap-probe.ts'),
        join(repoRoot, 'reference-impl', 'src', 'main.ts'),
        '--config',
        configPath,
      ],
      { env: childEnv, cwd: repoRoot, logFile: gatewayLog, captureStdout: false },
    );
    gatewayUrl = `http://127.0.0.1:${port}`;
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
    pid = gateway.pid as number;
  }
  log(`upstream at ${upstreamUrl}; ${target} at ${gatewayUrl} (pid ${pid})`);

  // Warm-up: load every module and JIT the streaming path, so that the baseline is a gateway that has served streams.
  if (warmupStreams > 0) {
    const w = startClient(warmupStreams, 1);
    const open = await w.next();
    const done = await w.next();
    log(`warm-up: ${JSON.stringify(open)} ${JSON.stringify(done)}`);
    await sleep(3000);
  }
  const before = await probe(pid);
  const cpuIdle0 = cpuMicros(pid);
  await sleep(2000);
  const idleCpuUsPerS = ((cpuMicros(pid) ?? 0) - (cpuIdle0 ?? 0)) / 2;
  log(`before: rss ${mib(before.procRss)} MiB, heapUsed ${mib(before.heapUsed)} MiB (after GC)`);

  const cpuOpen0 = cpuMicros(pid);
  const tOpen0 = Date.now();
  const client = startClient(streams, holdS);
  const open = await client.next();
  const tOpen = Date.now();
  const cpuHold0 = cpuMicros(pid);
  const upstreamCpu0 = cpuMicros(upstream.pid);
  log(`open: ${JSON.stringify(open)}`);
  if (open.event !== 'open') throw new Error(`the client did not open its streams: ${JSON.stringify(open)}`);

  const rssSamples: number[] = [];
  let held: (Heap & { procRss: number | null }) | null = null;
  let cpuHold1: number | null = null;
  let upstreamCpu1: number | null = null;
  const holdEndMs = tOpen + holdS * 1000 - 500;
  while (Date.now() < holdEndMs) {
    const r = rssBytes(pid);
    if (r !== null) rssSamples.push(r);
    if (held === null && Date.now() >= tOpen + (holdS * 1000) / 2) {
      held = await probe(pid);
      log(`held: rss ${mib(held.procRss)} MiB, heapUsed ${mib(held.heapUsed)} MiB (after GC)`);
    }
    await sleep(Math.min(1000, Math.max(0, holdEndMs - Date.now())));
  }
  cpuHold1 = cpuMicros(pid);
  upstreamCpu1 = cpuMicros(upstream.pid);
  const holdWallMs = Date.now() - tOpen;
  const done = await client.next();
  log(`done: ${JSON.stringify(done)}`);
  await sleep(3000);
  const after = await probe(pid);
  log(`after close: rss ${mib(after.procRss)} MiB, heapUsed ${mib(after.heapUsed)} MiB`);

  const openCount = Number(open.open);
  if (!held) throw new Error('no reading while the streams were open');
  const per = (a: number | null, b: number | null) =>
    a === null || b === null || openCount === 0 ? null : (a - b) / openCount;
  const perStream = {
    rssBytes: per(held.procRss, before.procRss),
    rssMedianDuringHoldBytes: per(median(rssSamples), before.procRss),
    rssMaxDuringHoldBytes: per(rssSamples.length > 0 ? Math.max(...rssSamples) : null, before.procRss),
    heapUsedBytes: per(held.heapUsed, before.heapUsed),
    externalBytes: per(held.external, before.external),
    arrayBuffersBytes: per(held.arrayBuffers, before.arrayBuffers),
  };
  const holdCpuUs = cpuHold1 !== null && cpuHold0 !== null ? cpuHold1 - cpuHold0 : null;
  const cpu = {
    holdWallMs,
    gatewayCpuUsDuringHold: holdCpuUs,
    gatewayCpuPercentOfOneCore: holdCpuUs === null ? null : (100 * holdCpuUs) / (holdWallMs * 1000),
    gatewayCpuUsPerStreamSecond: holdCpuUs === null ? null : holdCpuUs / (openCount * (holdWallMs / 1000)),
    gatewayCpuUsPerEvent:
      holdCpuUs === null || !done.chunksDuringHold ? null : holdCpuUs / Number(done.chunksDuringHold),
    gatewayIdleCpuUsPerSecond: idleCpuUsPerS,
    gatewayCpuUsWhileOpening: cpuHold0 !== null && cpuOpen0 !== null ? cpuHold0 - cpuOpen0 : null,
    openingWallMs: tOpen - tOpen0,
    upstreamCpuUsDuringHold:
      upstreamCpu1 !== null && upstreamCpu0 !== null ? upstreamCpu1 - upstreamCpu0 : null,
  };
  // Met only when both views agree: RSS (what the machine pays, but V8 and the allocator keep freed pages) and the
  // live V8 heap after a full GC (what each stream keeps reachable).
  const met =
    perStream.rssBytes !== null &&
    perStream.heapUsedBytes !== null &&
    perStream.rssBytes < TARGET_BYTES_PER_STREAM &&
    perStream.heapUsedBytes < TARGET_BYTES_PER_STREAM;
  const warnings: string[] = [];
  if (openCount < streams)
    warnings.push(`only ${openCount} of ${streams} streams opened: ${open.firstError}`);
  if (Number(done.stillOpenAtEnd) < openCount)
    warnings.push(`${openCount - Number(done.stillOpenAtEnd)} stream(s) ended before the hold was over`);
  if (fd.raiseTo !== null) warnings.push(fd.note);
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
      target,
      streams,
      holdS,
      intervalMs,
      warmupStreams,
      gatewayLogLevel: args['log-level'],
      database: args.database ? 'given by --database' : 'PGlite in bench/tmp',
      fileDescriptors: fd,
      nodeFlags,
      targetBytesPerStream: TARGET_BYTES_PER_STREAM,
    },
    open,
    done,
    memory: { before, held, after, rssSamplesDuringHold: rssSamples },
    perStream,
    cpu,
    target: met ? 'met' : 'not met',
    warnings,
  };
  mkdirSync(args.out, { recursive: true });
  const base = freeResultBase(
    args.out,
    `${stamp}-streams${target === 'bare' ? '-bare' : ''}${quick ? '-quick' : ''}`,
  );
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const lf = (n: number | null, d = 1) => (n === null ? '—' : n.toFixed(d));
  const md = [
    `# ${openCount} open streams through one ${subject} — ${stamp}${quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; load average at start ${loadAvgStart.map((l) => l.toFixed(2)).join(' / ')}, at end ${machine.loadAvgEnd.map((l) => l.toFixed(2)).join(' / ')} (shared machine).`,
    `Parameters: ${streams} streams, held ${holdS} s once all were open, one small content event per stream every ${intervalMs} ms, ${warmupStreams} warm-up streams, ${target === 'bare' ? 'the bare undici pass-through (bench/bare-proxy.ts)' : `gateway log level ${args['log-level']}, ${args.database ? 'database given by --database' : 'embedded PGlite'}`}${nodeFlags.length > 0 ? `, Node flags \`${nodeFlags.join(' ')}\`` : ''}; ${fd.note}.`,
    '',
    `All ${openCount} streams delivered their first content ${open.openedAfterMs} ms after the client started (first content p50 ${lf(Number((open.firstContentMs as { p50: number }).p50))} ms, p99 ${lf(Number((open.firstContentMs as { p99: number }).p99))} ms); ${done.stillOpenAtEnd} still open at the end of the hold; ${done.chunksDuringHold} body chunks received during the hold.`,
    '',
    `| ${subject} memory | before (after GC) | streams open (after GC) | after close | **per open stream** |`,
    '|---|---:|---:|---:|---:|',
    `| RSS (/proc) | ${mib(before.procRss)} MiB | ${mib(held.procRss)} MiB | ${mib(after.procRss)} MiB | **${kib(perStream.rssBytes)} KiB** |`,
    `| V8 heap used | ${mib(before.heapUsed)} MiB | ${mib(held.heapUsed)} MiB | ${mib(after.heapUsed)} MiB | ${kib(perStream.heapUsedBytes)} KiB |`,
    `| external (of which ArrayBuffers) | ${mib(before.external)} (${mib(before.arrayBuffers)}) MiB | ${mib(held.external)} (${mib(held.arrayBuffers)}) MiB | ${mib(after.external)} (${mib(after.arrayBuffers)}) MiB | ${kib(perStream.externalBytes)} (${kib(perStream.arrayBuffersBytes)}) KiB |`,
    '',
    `RSS per stream over the hold (no GC forced): median ${kib(perStream.rssMedianDuringHoldBytes)} KiB, max ${kib(perStream.rssMaxDuringHoldBytes)} KiB. ` +
      `Target: under 64 KiB per open stream, in RSS and in live heap — **${met ? 'met' : 'not met'}** (reported, never asserted).`,
    '',
    `| ${subject} CPU (utime + stime, /proc) | value |`,
    '|---|---:|',
    `| during the hold (${(holdWallMs / 1000).toFixed(1)} s, includes one forced GC) | ${lf(holdCpuUs === null ? null : holdCpuUs / 1000, 0)} ms = **${lf(cpu.gatewayCpuPercentOfOneCore)} % of one core** |`,
    `| per open stream per second | ${lf(cpu.gatewayCpuUsPerStreamSecond)} µs |`,
    `| per relayed event | ${lf(cpu.gatewayCpuUsPerEvent)} µs |`,
    `| idle, before the streams | ${lf(idleCpuUsPerS / 1000)} ms/s |`,
    `| while opening the ${openCount} streams (${cpu.openingWallMs} ms) | ${lf(cpu.gatewayCpuUsWhileOpening === null ? null : cpu.gatewayCpuUsWhileOpening / 1000, 0)} ms |`,
    ...(warnings.length > 0 ? ['', '## Warnings', '', ...warnings.map((w) => `- ${w}`)] : []),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${relative(repoRoot, `${base}.json`)} and ${relative(repoRoot, `${base}.md`)}`);
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  if (!wasInterrupted()) console.error(`[bench:streams] failed: ${(err as Error).stack ?? err}`);
  exitCode = wasInterrupted() ? 130 : 1;
} finally {
  await stopAll(5000);
}
if (exitCode === 0 && !args['keep-tmp'] && !args['heap-snapshots'])
  rmSync(workDir, { recursive: true, force: true });
else console.error(`[bench:streams] logs and config kept in ${relative(repoRoot, workDir)}`);
process.exit(exitCode);
