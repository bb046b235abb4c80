#!/usr/bin/env node
/**
 * Streaming load client, run as its own process: keeps `--connections` streaming POST /v1/messages requests in
 * flight for `--duration` seconds and records, per request, the time from sending to the first byte of the
 * response body (TTFB: the first SSE event) and to its last byte.
 *
 *   node bench/ttfb-client.ts --url http://127.0.0.1:<port> --connections 64 --duration 5 --header 'name: value' …
 *
 * Prints one JSON line: `{ttfbUs: {p50, p90, p99}, totalUs: {p50, p90, p99}, requests, errors, durationUs, firstError}`.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { messageRequestBody } from './lib/payloads.ts';
import { percentileSorted } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    path: { type: 'string', default: '/v1/messages' },
    connections: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    header: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.url) {
  console.error(
    'usage: node bench/ttfb-client.ts --url <base> [--connections N] [--duration S] [--header "k: v"]…',
  );
  process.exit(2);
}
const connections = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const h of values.header) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const body = Buffer.from(messageRequestBody(true));
headers['content-length'] = String(body.length);

const pool = new Pool(values.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const ttfb: number[] = [];
const total: number[] = [];
let errors = 0;
let firstError: string | null = null;

function fail(message: string): void {
  errors++;
  firstError ??= message;
}

const start = performance.now();
const deadline = start + durationMs;

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      const res = await pool.request({ method: 'POST', path: values.path, headers, body });
      let first = -1;
      let text = '';
      for await (const chunk of res.body) {
        if (first < 0) first = performance.now();
        if (res.statusCode !== 200) text += String(chunk);
      }
      const t1 = performance.now();
      if (res.statusCode !== 200) {
        fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
        continue;
      }
      ttfb.push((first < 0 ? t1 : first) - t0);
      total.push(t1 - t0);
    } catch (err) {
      fail(String(err));
      // Do not spin on a dead target.
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

await Promise.all(Array.from({ length: connections }, () => worker()));
const durationUs = Math.round((performance.now() - start) * 1000);
await pool.close();

const pct = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  const us = (p: number) => Math.round(percentileSorted(xs, p) * 1000);
  return { p50: us(50), p90: us(90), p99: us(99) };
};
process.stdout.write(
  `${JSON.stringify({ ttfbUs: pct(ttfb), totalUs: pct(total), requests: ttfb.length, errors, durationUs, firstError })}\n`,
);
