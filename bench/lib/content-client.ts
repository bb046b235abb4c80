#!/usr/bin/env node
/**
 * Streaming load client for `bench/providers.ts`, run as its own process, for `--duration` seconds:
 * - closed loop (default): keeps `--connections` streaming POSTs in flight, each starting when the last ended;
 * - paced (`--rate R`): starts R streams a second at even intervals whatever the answers do (open loop, at most
 *   `--connections` in flight; a start that finds them all busy waits and is counted as late).
 * It records, per request, the time from sending to the first content event (`content_block_delta`, see
 * ./first-content.ts) and to the last byte of the body.
 *
 *   node bench/lib/content-client.ts --url http://127.0.0.1:<port> --path /v1/messages --body-file body.json \
 *     --format sse|eventstream --connections 1 [--rate 200] --duration 5 --header 'name: value' …
 *
 * Prints one JSON line: `{firstContentUs: {p50, p90, p99}, totalUs: {…}, requests, errors, late, durationUs, firstError}`.
 * A stream that ends without a content event counts as an error.
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
    connections: { type: 'string', default: '1' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '5' },
    header: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.url || !values['body-file'] || (values.format !== 'sse' && values.format !== 'eventstream')) {
  console.error(
    'usage: node bench/lib/content-client.ts --url <base> --body-file F [--path P] [--format sse|eventstream] ' +
      '[--connections N] [--rate R] [--duration S] [--header "k: v"]…',
  );
  process.exit(2);
}
const format = values.format as StreamFormat;
const connections = Number(values.connections);
const rate = values.rate === undefined ? null : Number(values.rate);
if (rate !== null && !(rate > 0)) {
  console.error('--rate takes a number of streams per second above 0');
  process.exit(2);
}
const durationMs = Number(values.duration) * 1000;
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const h of values.header) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const body = readFileSync(values['body-file']);
headers['content-length'] = String(body.length);

const pool = new Pool(values.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const firstContent: number[] = [];
const total: number[] = [];
let errors = 0;
let firstError: string | null = null;
const fail = (message: string): void => {
  errors++;
  firstError ??= message;
};

const start = performance.now();
const deadline = start + durationMs;

/** One streaming request, measured. */
async function once(): Promise<void> {
  const t0 = performance.now();
  try {
    const res = await pool.request({ method: 'POST', path: values.path, headers, body });
    const detector = firstContentDetector(format);
    let first = -1;
    let text = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (res.statusCode !== 200) text += String(chunk);
      else if (first < 0 && detector.push(chunk)) first = performance.now();
    }
    const t1 = performance.now();
    if (res.statusCode !== 200) {
      fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      return;
    }
    if (first < 0) {
      fail('stream ended without a content_block_delta');
      return;
    }
    firstContent.push(first - t0);
    total.push(t1 - t0);
  } catch (err) {
    fail(String(err));
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function worker(): Promise<void> {
  while (performance.now() < deadline) await once();
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
    const p: Promise<void> = once().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
}

if (rate === null) await Promise.all(Array.from({ length: connections }, () => worker()));
else await paced(rate);
const durationUs = Math.round((performance.now() - start) * 1000);
await pool.close();

const pct = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  const us = (p: number) => Math.round(percentileSorted(xs, p) * 1000);
  return { p50: us(50), p90: us(90), p99: us(99) };
};
process.stdout.write(
  `${JSON.stringify({ firstContentUs: pct(firstContent), totalUs: pct(total), requests: firstContent.length, errors, late, durationUs, firstError })}\n`,
);
