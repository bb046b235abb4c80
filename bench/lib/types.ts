/** Shapes of the benchmark's measurements and results file. */

export type TargetName = 'direct' | 'bare' | 'gateway';
export const TARGETS: readonly TargetName[] = ['direct', 'bare', 'gateway'];

export interface Scenario {
  /** e.g. `nonstream-c64`. */
  id: string;
  /** `nonstream`: wrk, full response latency of a JSON answer. `ttfb`: Node client, time to first SSE byte. */
  kind: 'nonstream' | 'ttfb';
  connections: number;
}

/** Latency figures in microseconds. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface Measurement {
  round: number;
  scenario: string;
  target: TargetName;
  /** Order of this measurement within its round (0-based), to see order effects. */
  position: number;
  /** Primary latency: full response time (nonstream) or time to first body byte (ttfb). */
  latencyUs: Percentiles;
  /** ttfb scenarios only: time to the last byte of the stream. */
  totalUs?: Percentiles;
  requests: number;
  errors: number;
  firstError?: string | null;
  durationUs: number;
  requestsPerSecond: number;
  /** CPU time (user+system from /proc) each server process used during this measurement, per request served. */
  cpuUsPerRequest: { upstream: number | null; bare: number | null; gateway: number | null };
  gatewayRssBytes: number | null;
}

export interface TargetSummary {
  latencyUs: { p50: number | null; p90: number | null; p99: number | null };
  totalUs?: { p50: number | null; p99: number | null };
  /** Median over rounds of (this target's percentile − direct's percentile in the same round). */
  addedUs: { p50: number | null; p99: number | null };
  requestsPerSecond: number | null;
  /** CPU of the proxy process under test (bare or gateway) per request; for direct, null. */
  proxyCpuUsPerRequest: number | null;
  upstreamCpuUsPerRequest: number | null;
}

export interface ScenarioSummary {
  scenario: Scenario;
  targets: Record<TargetName, TargetSummary>;
  /** gateway added ÷ bare added (null when the bare proxy's added latency is not positive). */
  addedRatio: { p50: number | null; p99: number | null };
  /** gateway CPU per request ÷ bare proxy CPU per request. */
  cpuRatio: number | null;
  /** `met` when addedRatio.p50 ≤ target; informational only. */
  p50Target: 'met' | 'not met' | 'n/a';
}
