#!/usr/bin/env node
/**
 * The benchmark's upstream, run in its own process so that it does not share an event loop with anything measured.
 *
 *   node bench/upstream.ts --kind mock|plain [--port 0] [--deltas 9] [--event-delay-ms 0]
 *
 * - `mock`: the conformance kit's `startMockAnthropic` (msw handlers over node:http) with its default responder.
 * - `plain`: a minimal node:http server answering a canned message, or an SSE stream of `--deltas` text deltas with
 *   `--event-delay-ms` between events (so that time to first byte and time to last byte differ, as with a real model).
 *
 * The upstream credential is read from `OCG_BENCH_UPSTREAM_KEY`; requests without it get 401.
 * Prints one JSON line `{"url": "http://127.0.0.1:<port>", "kind": ...}` on stdout once listening; exits on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { cannedMessage, cannedStreamEvents } from './lib/payloads.ts';

const { values } = parseArgs({
  options: {
    kind: { type: 'string', default: 'mock' },
    port: { type: 'string', default: '0' },
    deltas: { type: 'string', default: '9' },
    'event-delay-ms': { type: 'string', default: '0' },
  },
});
const apiKey = process.env.OCG_BENCH_UPSTREAM_KEY ?? 'bench-upstream-key';
const port = Number(values.port);

let close: () => Promise<void>;
let url: string;

if (values.kind === 'mock') {
  const { startMockAnthropic } = await import('@ocg/conformance');
  const mock = await startMockAnthropic({ apiKey, port });
  url = mock.url;
  // The mock records every request (and the answer it wrote) for its tests; a benchmark sends hundreds of
  // thousands, so forget them every second. Nothing is scripted, so reset() has nothing else to forget.
  const forget = setInterval(() => mock.reset(), 1000);
  forget.unref();
  close = () => mock.close();
} else if (values.kind === 'plain') {
  const events = cannedStreamEvents(Number(values.deltas));
  const delay = Number(values['event-delay-ms']);
  const messageBytes = Buffer.from(cannedMessage);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['x-api-key'] !== apiKey) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}');
        return;
      }
      let stream = false;
      try {
        stream = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: unknown }).stream === true;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"invalid_request_error","message":"body is not JSON"}}');
        return;
      }
      const headers = { 'request-id': 'req_benchupstream', 'anthropic-ratelimit-requests-remaining': '999' };
      if (!stream) {
        res.writeHead(200, {
          ...headers,
          'content-type': 'application/json',
          'content-length': messageBytes.length,
        });
        res.end(messageBytes);
        return;
      }
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (delay <= 0) {
        res.end(events.join(''));
        return;
      }
      let i = 0;
      const next = (): void => {
        if (res.destroyed) return;
        res.write(events[i++]);
        if (i < events.length) setTimeout(next, delay);
        else res.end();
      };
      next();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
} else {
  console.error(`unknown --kind ${values.kind} (mock|plain)`);
  process.exit(2);
}

process.stdout.write(`${JSON.stringify({ url, kind: values.kind })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
