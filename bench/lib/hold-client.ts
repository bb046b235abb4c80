#!/usr/bin/env node
/**
 * The client of `bench/streams.ts`, its own process: opens `--streams` streaming POST /v1/messages requests at once
 * (one connection each), waits until every one has delivered its first content event (or `--open-timeout-s`
 * passes), prints `{"event":"open", …}`, keeps them all open and reading for `--hold-s` seconds, then closes them
 * and prints `{"event":"done", …}` and exits. Bounded in time and count: it stops by itself.
 *
 *   node bench/lib/hold-client.ts --url http://127.0.0.1:<port> --streams 1000 --hold-s 20 --header 'k: v' …
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { firstContentDetector } from './first-content.ts';
import { messageRequestBody } from './payloads.ts';
import { percentileSorted } from './stats.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    streams: { type: 'string', default: '1000' },
    'hold-s': { type: 'string', default: '20' },
    'open-timeout-s': { type: 'string', default: '60' },
    header: { type: 'string', multiple: true, default: [] },
  },
});
if (!values.url) {
  console.error(
    'usage: node bench/lib/hold-client.ts --url <base> [--streams N] [--hold-s S] [--header "k: v"]…',
  );
  process.exit(2);
}
const streams = Number(values.streams);
const holdMs = Number(values['hold-s']) * 1000;
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const h of values.header) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const body = Buffer.from(messageRequestBody(true));
headers['content-length'] = String(body.length);

const dispatcher = new Agent({
  connections: streams,
  pipelining: 1,
  bodyTimeout: 0,
  headersTimeout: 120_000,
});
const abort = new AbortController();
const firstContentMs: number[] = [];
let errors = 0;
let firstError: string | null = null;
let chunks = 0;
let endedEarly = 0;
const start = performance.now();
let markOpen: () => void = () => {};
const allOpen = new Promise<void>((r) => {
  markOpen = r;
});
const settled = () => {
  if (firstContentMs.length + errors >= streams) markOpen();
};

async function one(): Promise<void> {
  const t0 = performance.now();
  let gotContent = false;
  try {
    const res = await request(`${values.url}/v1/messages`, {
      method: 'POST',
      headers,
      body,
      dispatcher,
      signal: abort.signal,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    const detector = firstContentDetector('sse');
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks++;
      if (!gotContent && detector.push(chunk)) {
        gotContent = true;
        firstContentMs.push(performance.now() - t0);
        settled();
      }
    }
    if (!abort.signal.aborted) endedEarly++;
    if (!gotContent) throw new Error('stream ended without content');
  } catch (err) {
    if (abort.signal.aborted && gotContent) return;
    errors++;
    firstError ??= String(err);
    if (!gotContent) settled();
  }
}

const all = Promise.all(Array.from({ length: streams }, () => one()));
const openTimeout = setTimeout(markOpen, Number(values['open-timeout-s']) * 1000);
await allOpen;
clearTimeout(openTimeout);
const openedAfterMs = performance.now() - start;
const sorted = [...firstContentMs].sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    event: 'open',
    open: firstContentMs.length,
    errors,
    firstError,
    openedAfterMs: Math.round(openedAfterMs),
    firstContentMs: { p50: percentileSorted(sorted, 50), p99: percentileSorted(sorted, 99) },
  })}\n`,
);
const chunksAtOpen = chunks;
await new Promise((r) => setTimeout(r, holdMs));
const chunksDuringHold = chunks - chunksAtOpen;
const stillOpen = firstContentMs.length - endedEarly;
abort.abort();
await Promise.race([all, new Promise((r) => setTimeout(r, 5000))]);
await dispatcher.destroy().catch(() => {});
process.stdout.write(
  `${JSON.stringify({ event: 'done', stillOpenAtEnd: stillOpen, endedEarly, errors, firstError, chunksDuringHold, holdMs })}\n`,
);
process.exit(0);
