/** Shared test helpers: an in-test upstream on node:http, config builders, a raw HTTP client, test databases. */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type GatewayConfig, parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { createLogger, type Logger } from '../src/log/logger.ts';

export const TOKEN = 'tok_test_0123456789abcdefghijklmnopqrstuv';
export const OTHER_TOKEN = 'tok_test_zyxwvutsrqponmlkjihgfedcba9876543210';
export const UPSTREAM_KEY = 'sk-ant-upstream-key-never-shown-0001';
export const ENV = { OCG_DEV_TOKEN: TOKEN, OCG_OTHER_TOKEN: OTHER_TOKEN, ANTHROPIC_API_KEY: UPSTREAM_KEY };

export interface RecordedRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type UpstreamHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
) => void | Promise<void>;

export interface TestUpstream {
  url: string;
  requests: RecordedRequest[];
  /** Replace to script the next answers. */
  handler: UpstreamHandler;
  close(): Promise<void>;
}

export const MESSAGE = {
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-test-1',
  content: [{ type: 'text', text: 'Hi', citations: null }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 25, output_tokens: 12 },
};

export const SSE_EVENTS = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-test-1","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":450,"output_tokens":1}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: ping\ndata: {"type": "ping"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":53}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

/** Default upstream: JSON message, SSE when the body says `stream: true`, `{input_tokens}` for count_tokens. */
export const defaultUpstreamHandler: UpstreamHandler = (req, res, body) => {
  const parsed = JSON.parse(body.toString('utf8') || '{}') as { stream?: boolean };
  if (req.url?.startsWith('/v1/messages/count_tokens')) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstreamcount' });
    res.end('{"input_tokens":42}');
    return;
  }
  if (parsed.stream) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'request-id': 'req_upstreamsse',
    });
    res.end(SSE_EVENTS.join(''));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstreamjson' });
  res.end(JSON.stringify(MESSAGE));
};

export async function startUpstream(
  handler: UpstreamHandler = defaultUpstreamHandler,
): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const upstream: TestUpstream = {
    url: '',
    requests,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        body,
      });
      void Promise.resolve(upstream.handler(req, res, body)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}

export interface ConfigOverrides {
  upstreamUrl: string;
  databaseUrl?: string;
  maxRequestBodyBytes?: number;
  shutdownGraceMs?: number;
  timeouts?: { connectMs?: number; firstByteMs?: number; idleMs?: number };
}

export function testConfigYaml(o: ConfigOverrides): string {
  const t = o.timeouts ?? {};
  return `
server:
  host: 127.0.0.1
  port: 0
  maxRequestBodyBytes: ${o.maxRequestBodyBytes ?? 1048576}
  shutdownGraceMs: ${o.shutdownGraceMs ?? 5000}
database:
  url: "${o.databaseUrl ?? 'pglite:memory:'}"
auth:
  staticTokens:
    - token: \${env:OCG_DEV_TOKEN}
      subject: dev-user
      email: dev@example.com
    - token: \${env:OCG_OTHER_TOKEN}
      subject: other-user
upstreams:
  - name: anthropic
    kind: anthropic
    baseUrl: ${o.upstreamUrl}
    apiKey: \${env:ANTHROPIC_API_KEY}
    timeouts: { connectMs: ${t.connectMs ?? 2000}, firstByteMs: ${t.firstByteMs ?? 10000}, idleMs: ${t.idleMs ?? 10000} }
models: # canonical ids as the tests send them, so bodies are forwarded unchanged (aliases are rewritten)
  - { id: claude-sonnet-4-5, displayName: Claude Sonnet 4.5 }
  - { id: claude-sonnet-4-5-20250929, displayName: Claude Sonnet 4.5 (dated) }
  - { id: claude-opus-4-5, displayName: Claude Opus 4.5 }
  - { id: claude-opus-4-1, displayName: Claude Opus 4.1 }
  - { id: claude-haiku-4-5, displayName: Claude Haiku 4.5 }
  - { id: claude-test-1, displayName: Claude Test 1 }
  - { id: m, displayName: Test model m }
  - { id: a, displayName: Test model a }
  - { id: b, displayName: Test model b }
  - { id: x, displayName: Test model x }
  - { id: n, displayName: Test model n }
  - { id: keep, displayName: Test model keep }
policies:
  - { name: everyone, match: { everyone: true }, models: ['*'] }
# One attempt, no breaker: these tests see each upstream answer as the client does (routing-*.test.ts test retries).
routing: { maxAttemptsPerTarget: 1, breaker: { failureThreshold: 1000, minRequests: 100000 } }
log:
  level: debug
`;
}

export function testConfig(o: ConfigOverrides): GatewayConfig {
  return parseConfig(testConfigYaml(o), ENV);
}

export interface CapturedLogger {
  logger: Logger;
  lines: string[];
  records(): Array<Record<string, unknown>>;
}

export function captureLogger(secrets: string[] = [TOKEN, OTHER_TOKEN, UPSTREAM_KEY]): CapturedLogger {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', secrets, write: (l) => lines.push(l) });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export async function startTestGateway(
  o: ConfigOverrides,
): Promise<{ gateway: Gateway; log: CapturedLogger; config: GatewayConfig }> {
  const config = testConfig(o);
  const log = captureLogger();
  const gateway = await startGateway(config, { logger: log.logger });
  return { gateway, log, config };
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Send the body with transfer-encoding: chunked and no content-length. */
  chunked?: boolean;
}

export interface SendResult {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** A plain node:http request, so tests control headers byte for byte. */
export function send(url: string, o: SendOptions = {}): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...(o.headers ?? {}) };
    if (o.body !== undefined && !o.chunked) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = request(
      url,
      { method: o.method ?? (o.body === undefined ? 'GET' : 'POST'), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) {
      if (o.chunked) req.write(o.body);
      req.end(o.chunked ? undefined : o.body);
    } else req.end();
  });
}

export const AUTH = { authorization: `Bearer ${TOKEN}` };
export const JSON_HEADERS = {
  ...AUTH,
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
};
export const VALID_BODY = JSON.stringify({
  model: 'claude-test-1',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'hello' }],
});

export function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

export { BACKENDS, createTestDatabase, PG_URL } from '../../scripts/testing/postgres.ts';
