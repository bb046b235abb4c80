#!/usr/bin/env node
/**
 * Streaming load client for `bench/providers.ts`, run as its own process, for `--duration` seconds:
 * - closed loop (default): keeps `--connections` streaming POSTs in flight, each starting when the last ended;
 * - paced (`--rate R`): starts R streams a second at even intervals whatever the answers do (open loop, at most
 *   `--connections` in flight; a start that finds them all busy waits and is counted as late).
 * It records, per request, the time from sending to the first content event (`content_block_delta`, see
 * ./first-content.ts) and to the last byte of the body.
 *
 * One target (`--url` …), or several from `--targets-file` (a JSON array of `{name, url, path, bodyFile, format,
 * headers}`), interleaved request by request: each worker (closed loop) or the pacer (paced) sends to the targets in
 * turn, the order rotating every cycle (a b c, b c a, c a b, …), so that every target is measured under the same
 * machine conditions and none always follows the same other. `--rate` is then the rate over all targets together.
 *
 *   node bench/lib/content-client.ts --url http://127.0.0.1:<port> --path /v1/messages --body-file body.json \
 *     --format sse|eventstream --connections 1 [--rate 200] --duration 5 --header 'name: value' …
 *   node bench/lib/content-client.ts --targets-file targets.json --connections 1 [--rate 200] --duration 5
 *
 * Prints one JSON line: `{firstContentUs: {p50, p90, p99}, totalUs: {…}, requests, errors, late, durationUs, firstError}`
 * for one target; with `--targets-file`, `{targets: {<name>: {firstContentUs, totalUs, requests, errors, firstError}},
 * late, durationUs}`. A stream that ends without a content event counts as an error.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { firstContentDetector, type StreamFormat } from './first-content.ts';
import { percentileSorted } from './stats.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    path: { type: 'string', default: '/v1/messages' },
    'body-file': { type: 'string' },
    format: { type: 'string', default: 'sse' },
    'targets-file': { type: 'string' },
    connections: { type: 'string', default: '1' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '5' },
    header: { type: 'string', multiple: true, default: [] },
  },
});

/** One target as `--targets-file` lists it (the single-target flags make one of these too). */
interface TargetSpec {
  name: string;
  url: string;
  path: string;
  bodyFile: string;
  format: StreamFormat;
  headers: string[];
}

const usage = () => {
  console.error(
    'usage: node bench/lib/content-client.ts (--url <base> --body-file F [--path P] [--format sse|eventstream] ' +
      '[--header "k: v"]… | --targets-file F) [--connections N] [--rate R] [--duration S]',
  );
  process.exit(2);
};

function readTargets(): TargetSpec[] {
  const file = values['targets-file'];
  if (file === undefined) {
    if (!values.url || !values['body-file']) usage();
    return [
      {
        name: 'target',
        url: values.url as string,
        path: values.path,
        bodyFile: values['body-file'] as string,
        format: values.format as StreamFormat,
        headers: values.header,
      },
    ];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    console.error(`--targets-file ${file}: ${(err as Error).message}`);
    process.exit(2);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    console.error(`--targets-file ${file}: a non-empty JSON array of targets is required`);
    process.exit(2);
  }
  return parsed as TargetSpec[];
}

const specs = readTargets();
for (const t of specs) {
  if (t.format !== 'sse' && t.format !== 'eventstream') usage();
}
if (new Set(specs.map((t) => t.name)).size !== specs.length) {
  console.error('--targets-file: target names must be unique');
  process.exit(2);
}
const connections = Number(values.connections);
const rate = values.rate === undefined ? null : Number(values.rate);
if (rate !== null && !(rate > 0)) {
  console.error('--rate takes a number of streams per second above 0');
  process.exit(2);
}
const durationMs = Number(values.duration) * 1000;

/** A target ready to be called, with what was measured on it. */
interface Target {
  spec: TargetSpec;
  pool: Pool;
  headers: Record<string, string>;
  body: Buffer;
  firstContent: number[];
  total: number[];
  errors: number;
  firstError: string | null;
}

const targets: Target[] = specs.map((spec) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const h of spec.headers) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const body = readFileSync(spec.bodyFile);
  headers['content-length'] = String(body.length);
  return {
    spec,
    pool: new Pool(spec.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 }),
    headers,
    body,
    firstContent: [],
    total: [],
    errors: 0,
    firstError: null,
  };
});
const fail = (t: Target, message: string): void => {
  t.errors++;
  t.firstError ??= message;
};

/** The target of the i-th request of a sequence: cycle ⌊i/n⌋ takes the targets rotated by its number. */
const nth = (i: number): Target => {
  const n = targets.length;
  const cycle = Math.floor(i / n);
  return targets[(i + cycle) % n] as Target;
};

const start = performance.now();
const deadline = start + durationMs;

/** One streaming request, measured. */
async function once(t: Target): Promise<void> {
  const t0 = performance.now();
  try {
    const res = await t.pool.request({ method: 'POST', path: t.spec.path, headers: t.headers, body: t.body });
    const detector = firstContentDetector(t.spec.format);
    let first = -1;
    let text = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (res.statusCode !== 200) text += String(chunk);
      else if (first < 0 && detector.push(chunk)) first = performance.now();
    }
    const t1 = performance.now();
    if (res.statusCode !== 200) {
      fail(t, `HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      return;
    }
    if (first < 0) {
      fail(t, 'stream ended without a content_block_delta');
      return;
    }
    t.firstContent.push(first - t0);
    t.total.push(t1 - t0);
  } catch (err) {
    fail(t, String(err));
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Worker w starts w requests into the sequence, so the workers do not all begin on the same target and stay in step. */
async function worker(w: number): Promise<void> {
  for (let i = w; performance.now() < deadline; i++) await once(nth(i));
}

let late = 0;
/** Paced: stream i starts at start + i / rate. */
async function paced(perSecond: number): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; ; i++) {
    const due = start + (i * 1000) / perSecond;
    if (due >= deadline) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight.size >= connections) {
      late++;
      await Promise.race(inFlight);
    }
    const p: Promise<void> = once(nth(i)).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}

if (rate === null) await Promise.all(Array.from({ length: connections }, (_, w) => worker(w)));
else await paced(rate);
const durationUs = Math.round((performance.now() - start) * 1000);
await Promise.all(targets.map((t) => t.pool.close()));

const pct = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  const us = (p: number) => Math.round(percentileSorted(xs, p) * 1000);
  return { p50: us(50), p90: us(90), p99: us(99) };
};
const resultOf = (t: Target) => ({
  firstContentUs: pct(t.firstContent),
  totalUs: pct(t.total),
  requests: t.firstContent.length,
  errors: t.errors,
  firstError: t.firstError,
});
const result =
  values['targets-file'] === undefined
    ? { ...resultOf(targets[0] as Target), late, durationUs }
    : { targets: Object.fromEntries(targets.map((t) => [t.spec.name, resultOf(t)])), late, durationUs };
process.stdout.write(`${JSON.stringify(result)}\n`);
