#!/usr/bin/env node
/**
 * The upstream of `bench/streams.ts`: a minimal node:http Anthropic-shaped server that keeps every stream open,
 * sending a small `content_block_delta` every `--interval-ms` (default 1000), so that the gateway holds many open
 * streams that each carry a little traffic, as a coding agent waiting on a slow model does. The first delta is sent
 * at once (the gateway holds `message_start` back until the first content). A stream ends by itself after
 * `--max-s` seconds (default 60, a bound in case the client never goes away) or when the client closes.
 *
 *   OCG_BENCH_UPSTREAM_KEY=… node bench/lib/hold-upstream.ts [--interval-ms 1000] [--max-s 60]
 *
 * Prints one JSON line `{"url": …}` once listening; exits on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { cannedStreamEvents } from './payloads.ts';

const { values } = parseArgs({
  options: { 'interval-ms': { type: 'string', default: '1000' }, 'max-s': { type: 'string', default: '60' } },
});
const intervalMs = Number(values['interval-ms']);
const maxMs = Number(values['max-s']) * 1000;
const apiKey = process.env.OCG_BENCH_UPSTREAM_KEY ?? 'bench-upstream-key';
// cannedStreamEvents(1): message_start, content_block_start, ping, one delta, content_block_stop, message_delta, message_stop.
const events = cannedStreamEvents(1);
const head = events.slice(0, 4).join('');
const delta = events[3] as string;
const tail = events.slice(4).join('');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.headers['x-api-key'] !== apiKey) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': 'req_hold',
    });
    res.write(head);
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started >= maxMs) {
        clearInterval(timer);
        res.end(tail);
        return;
      }
      res.write(delta);
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 60_000;
server.requestTimeout = 0;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 500).unref();
  });
}
