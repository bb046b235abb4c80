#!/usr/bin/env node
/**
 * The floor: the least any Node reverse proxy in front of the upstream pays. node:http server + undici Pool,
 * request and response bodies piped as streams, hop-by-hop headers (and those named in `Connection`) dropped in
 * both directions, the client's credentials replaced by the upstream's key. No auth, validation, logging or database.
 *
 *   OCG_BENCH_UPSTREAM_KEY=… node bench/bare-proxy.ts --upstream http://127.0.0.1:<port> [--port 0]
 *
 * Prints one JSON line `{"url": "http://127.0.0.1:<port>"}` on stdout once listening; exits on SIGTERM/SIGINT.
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } },
});
if (!values.upstream) {
  console.error('usage: node bench/bare-proxy.ts --upstream <url> [--port N]');
  process.exit(2);
}
const apiKey = process.env.OCG_BENCH_UPSTREAM_KEY ?? 'bench-upstream-key';
// `OCG_BENCH_BARE_AUTH_HEADER="name: value"` (bench/providers.ts): send that credential instead of x-api-key, e.g.
// a Bedrock API key or a Vertex access token as `authorization: Bearer …`.
const authHeader = process.env.OCG_BENCH_BARE_AUTH_HEADER?.match(/^([^:]+):\s*(.*)$/);
const pool = new Pool(values.upstream, { keepAliveTimeout: 60_000 });

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function namedInConnection(value: string | string[] | undefined): Set<string> {
  const named = new Set<string>();
  for (const v of Array.isArray(value) ? value : value ? [value] : []) {
    for (const token of v.split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

function forwardable(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const named = namedInConnection(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const server = createServer((req, res) => {
  const headers = forwardable(req.headers);
  delete headers.host;
  delete headers.authorization;
  if (authHeader) headers[(authHeader[1] as string).trim().toLowerCase()] = authHeader[2] as string;
  else headers['x-api-key'] = apiKey;
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool
    .request({
      method: req.method as 'POST',
      path: req.url ?? '/',
      headers: headers as Record<string, string>,
      body: hasBody ? req : null,
      signal: abort.signal,
    })
    .then(async (up) => {
      res.writeHead(up.statusCode, forwardable(up.headers));
      await pipeline(up.body, res);
    })
    .catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(`{"type":"error","error":{"type":"api_error","message":${JSON.stringify(String(err))}}}`);
      } else {
        res.destroy();
      }
    });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
process.stdout.write(
  `${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`,
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void pool.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
