#!/usr/bin/env node
/**
 * Streaming load client for `bench/providers.ts`, run as its own process: keeps `--connections` streaming POSTs in
 * flight for `--duration` seconds and records, per request, the time from sending to the first content event
 * (`content_block_delta`, see ./first-content.ts) and to the last byte of the body.
 *
 *   node bench/lib/content-client.ts --url http://127.0.0.1:<port> --path /v1/messages --body-file body.json \
 *     --format sse|eventstream --connections 1 --duration 5 --header 'name: value' …
 *
 * Prints one JSON line: `{firstContentUs: {p50, p90, p99}, totalUs: {…}, requests, errors, durationUs, firstError}`.
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
    duration: { type: 'string', default: '5' },
    header: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.url || !values['body-file'] || (values.format !== 'sse' && values.format !== 'eventstream')) {
  console.error(
    'usage: node bench/lib/content-client.ts --url <base> --body-file F [--path P] [--format sse|eventstream] ' +
      '[--connections N] [--duration S] [--header "k: v"]…',
  );
  process.exit(2);
}
const format = values.format as StreamFormat;
const connections = Number(values.connections);
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

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
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
        continue;
      }
      if (first < 0) {
        fail('stream ended without a content_block_delta');
        continue;
      }
      firstContent.push(first - t0);
      total.push(t1 - t0);
    } catch (err) {
      fail(String(err));
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
  `${JSON.stringify({ firstContentUs: pct(firstContent), totalUs: pct(total), requests: firstContent.length, errors, durationUs, firstError })}\n`,
);
