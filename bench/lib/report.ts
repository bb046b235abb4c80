/** Renders the benchmark's results as a Markdown report. */
import type { ScenarioSummary } from './types.ts';

export interface ReportInput {
  stamp: string;
  machine: { cpuModel: string; cores: number; node: string; kernel: string; loadAvgStart: number[] };
  parameters: {
    rounds: number;
    durationS: number;
    warmupS: number;
    upstream: string;
    eventDelayMs: number;
    gatewayLogLevel: string;
    database: string;
  };
  summaries: ScenarioSummary[];
  overallCpu: { bareUsPerRequest: number | null; gatewayUsPerRequest: number | null; ratio: number | null };
  /** Largest resident set size of the gateway seen after a measurement. */
  gatewayMaxRssBytes: number | null;
  targetRatio: number;
  warnings: string[];
}

const ms = (us: number | null | undefined): string => (us == null ? '–' : (us / 1000).toFixed(3));
const plus = (us: number | null | undefined): string =>
  us == null ? '–' : `${us >= 0 ? '+' : '−'}${(Math.abs(us) / 1000).toFixed(3)}`;
const x = (r: number | null): string => (r == null ? 'n/a' : `${r.toFixed(2)}×`);
const int = (n: number | null | undefined): string =>
  n == null ? '–' : Math.round(n).toLocaleString('en-US');

function describe(s: ScenarioSummary): string {
  return s.scenario.kind === 'nonstream'
    ? 'non-streaming, full response (wrk)'
    : 'streaming, time to first byte';
}

/** The Markdown report: parameters, added latency with ratios, throughput and CPU per request. */
export function renderMarkdown(r: ReportInput): string {
  const p = r.parameters;
  const lines: string[] = [];
  lines.push(`# OCG gateway benchmark — ${r.stamp}`, '');
  lines.push(
    `${r.machine.cpuModel}, ${r.machine.cores} cores, Node ${r.machine.node}, Linux ${r.machine.kernel}; ` +
      `load average at start ${r.machine.loadAvgStart.map((l) => l.toFixed(2)).join(' ')}. Loopback only.`,
    '',
    `Upstream: \`${p.upstream}\`${p.upstream === 'plain' ? ` (event delay ${p.eventDelayMs} ms)` : ''}; ` +
      `gateway log level \`${p.gatewayLogLevel}\`; gateway database ${p.database}. ` +
      `${p.rounds} round(s) × ${p.durationS} s per measurement after ${p.warmupS} s warm-up per target; ` +
      'targets alternated within each round, order rotated between rounds. Figures are medians over rounds.',
    '',
  );
  lines.push(
    '## Added latency over a direct call (ms)',
    '',
    `Ratio = gateway added ÷ bare-proxy added. Target for this slice: gateway added p50 ≤ ${r.targetRatio}× the bare proxy's (informational, not asserted).`,
    '',
    '| scenario | conns | direct p50 | bare p50 | gateway p50 | ratio p50 | target | direct p99 | bare p99 | gateway p99 | ratio p99 |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
  );
  for (const s of r.summaries) {
    const d = s.targets.direct;
    const b = s.targets.bare;
    const g = s.targets.gateway;
    lines.push(
      `| ${describe(s)} | ${s.scenario.connections} | ${ms(d.latencyUs.p50)} | ${plus(b.addedUs.p50)} | ${plus(g.addedUs.p50)} | ` +
        `${x(s.addedRatio.p50)} | ≤${r.targetRatio}× ${s.p50Target} | ${ms(d.latencyUs.p99)} | ${plus(b.addedUs.p99)} | ` +
        `${plus(g.addedUs.p99)} | ${x(s.addedRatio.p99)} |`,
    );
  }
  lines.push(
    '',
    '## Throughput and CPU time per request',
    '',
    'CPU = user + system time of the proxy process from `/proc/<pid>/stat` during the measurement ÷ requests served — the steadiest figure on a shared machine.',
    '',
    '| scenario | conns | direct req/s | bare req/s | gateway req/s | bare CPU µs/req | gateway CPU µs/req | CPU ratio | upstream CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of r.summaries) {
    const t = s.targets;
    lines.push(
      `| ${describe(s)} | ${s.scenario.connections} | ${int(t.direct.requestsPerSecond)} | ${int(t.bare.requestsPerSecond)} | ` +
        `${int(t.gateway.requestsPerSecond)} | ${int(t.bare.proxyCpuUsPerRequest)} | ${int(t.gateway.proxyCpuUsPerRequest)} | ` +
        `${x(s.cpuRatio)} | ${int(t.direct.upstreamCpuUsPerRequest)} |`,
    );
  }
  const c = r.overallCpu;
  lines.push(
    '',
    `All scenarios together: bare ${int(c.bareUsPerRequest)} µs CPU/req, gateway ${int(c.gatewayUsPerRequest)} µs CPU/req, ratio ${x(c.ratio)}. ` +
      `Largest gateway resident memory seen: ${r.gatewayMaxRssBytes == null ? '–' : `${Math.round(r.gatewayMaxRssBytes / 2 ** 20)} MiB`}.`,
  );
  const ttfb = r.summaries.filter((s) => s.scenario.kind === 'ttfb');
  if (ttfb.length > 0) {
    lines.push(
      '',
      '## Streaming: time to last byte (ms, for reference)',
      '',
      '| conns | direct p50 | bare p50 | gateway p50 | direct p99 | bare p99 | gateway p99 |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of ttfb) {
      const t = s.targets;
      lines.push(
        `| ${s.scenario.connections} | ${ms(t.direct.totalUs?.p50)} | ${ms(t.bare.totalUs?.p50)} | ${ms(t.gateway.totalUs?.p50)} | ` +
          `${ms(t.direct.totalUs?.p99)} | ${ms(t.bare.totalUs?.p99)} | ${ms(t.gateway.totalUs?.p99)} |`,
      );
    }
  }
  if (r.warnings.length > 0) {
    lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  }
  lines.push('');
  return lines.join('\n');
}
