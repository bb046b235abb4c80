/**
 * The inference path against an in-test upstream: INFERENCE-1…9, ERRORS-1/2.
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.ts';
import {
  AUTH,
  type CapturedLogger,
  defaultUpstreamHandler,
  JSON_HEADERS,
  MESSAGE,
  SSE_EVENTS,
  send,
  startTestGateway,
  startUpstream,
  type TestUpstream,
  TOKEN,
  UPSTREAM_KEY,
  VALID_BODY,
  waitFor,
} from './helpers.ts';

let upstream: TestUpstream;
let gateway: Gateway;
let log: CapturedLogger;

beforeAll(async () => {
  upstream = await startUpstream();
  ({ gateway, log } = await startTestGateway({ upstreamUrl: upstream.url }));
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});
afterEach(() => {
  upstream.handler = defaultUpstreamHandler;
  upstream.requests.length = 0;
});

const STREAM_BODY = JSON.stringify({
  model: 'claude-test-1',
  max_tokens: 64000,
  stream: true,
  messages: [{ role: 'user', content: 'hi' }],
  metadata: { user_id: '{"device":"x"}' },
  unknown_future_field: { nested: [1, 2.5, 'x'] },
});

describe('non-streaming relay (INFERENCE-1)', () => {
  it('returns the upstream JSON answer unchanged, with our request-id and the upstream one kept', async () => {
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
    expect(r.status).toBe(200);
    expect(r.body).toBe(JSON.stringify(MESSAGE));
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)));
    expect(r.headers['request-id']).toMatch(/^req_[A-Za-z0-9]+$/);
    expect(r.headers['upstream-request-id']).toBe('req_upstreamjson');
  });

  it('relays count_tokens (INFERENCE-8)', async () => {
    const r = await send(`${gateway.url}/v1/messages/count_tokens?beta=true`, {
      headers: JSON_HEADERS,
      body: JSON.stringify({ model: 'claude-test-1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ input_tokens: 42 });
    expect(upstream.requests[0]?.url).toBe('/v1/messages/count_tokens?beta=true');
  });

  it('decodes a compressed upstream answer it did not ask for, and drops content-encoding', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify(MESSAGE)));
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(r.body)).toEqual(MESSAGE);
  });
});

describe('request headers and body (INFERENCE-4, -5, -6, -7)', () => {
  it('forwards the allowed headers byte for byte, replaces credentials, drops the rest, keeps the query', async () => {
    const clientHeaders: Record<string, string> = {
      authorization: `Bearer ${TOKEN}`,
      'x-api-key': TOKEN,
      'content-type': 'application/json',
      accept: 'application/json',
      'accept-encoding': 'gzip, br',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14, effort-2025-11-24',
      'anthropic-user-profile-id': 'prof_1',
      'user-agent': 'claude-cli/2.1.190 (external, sdk-cli)',
      'x-app': 'cli',
      'x-claude-code-session-id': 'c0ffee00-0000-4000-8000-000000000001',
      'x-stainless-retry-count': '0',
      'x-stainless-timeout': '600',
      'X-Stainless-Lang': 'js',
      cookie: 'session=secret',
      'proxy-authorization': 'Basic abc',
      'x-forwarded-for': '10.0.0.1',
      'x-custom-dropped': 'yes',
      connection: 'keep-alive, x-hop-listed',
      'x-hop-listed': 'must-not-pass',
      'keep-alive': 'timeout=5',
      te: 'trailers',
    };
    const r = await send(`${gateway.url}/v1/messages?beta=true`, {
      headers: clientHeaders,
      body: STREAM_BODY,
    });
    expect(r.status).toBe(200);
    const seen = upstream.requests[0];
    expect(seen?.url).toBe('/v1/messages?beta=true');
    expect(seen?.method).toBe('POST');
    // The raw body bytes, not a re-serialisation (2.50 would become 2.5).
    expect(seen?.body.toString('utf8')).toBe(STREAM_BODY);
    const h = seen?.headers ?? {};
    for (const name of [
      'content-type',
      'accept',
      'anthropic-version',
      'anthropic-beta',
      'anthropic-user-profile-id',
      'user-agent',
      'x-app',
      'x-claude-code-session-id',
      'x-stainless-retry-count',
      'x-stainless-timeout',
    ]) {
      expect(h[name], name).toBe(clientHeaders[name]);
    }
    expect(h['x-stainless-lang']).toBe('js');
    expect(h['x-api-key']).toBe(UPSTREAM_KEY);
    expect(h.authorization).toBeUndefined();
    expect(h['accept-encoding']).toBe('identity');
    for (const name of [
      'cookie',
      'proxy-authorization',
      'x-forwarded-for',
      'x-custom-dropped',
      'x-hop-listed',
      'keep-alive',
      'te',
    ]) {
      expect(h[name], name).toBeUndefined();
    }
    expect(JSON.stringify(seen?.rawHeaders)).not.toContain(TOKEN);
    expect(h['content-length']).toBe(String(Buffer.byteLength(STREAM_BODY)));
  });

  it('strips hop-by-hop, connection-listed, set-cookie and encoding headers from the answer', async () => {
    upstream.handler = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection', 'keep-alive, x-upstream-hop');
      res.setHeader('x-upstream-hop', '1');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('set-cookie', 'upstream=1');
      res.setHeader('anthropic-ratelimit-requests-remaining', '99');
      res.setHeader('request-id', 'req_upstream9');
      res.end(JSON.stringify(MESSAGE));
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
    expect(r.headers['x-upstream-hop']).toBeUndefined();
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['anthropic-ratelimit-requests-remaining']).toBe('99');
    expect(r.headers['upstream-request-id']).toBe('req_upstream9');
    expect(r.headers['request-id']).not.toBe('req_upstream9');
  });

  it('accepts x-api-key alone (apiKeyHelper / ANTHROPIC_API_KEY clients)', async () => {
    const r = await send(`${gateway.url}/v1/messages`, {
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: VALID_BODY,
    });
    expect(r.status).toBe(200);
    expect(upstream.requests[0]?.headers['x-api-key']).toBe(UPSTREAM_KEY);
  });
});

describe('streaming (INFERENCE-2, INFERENCE-3)', () => {
  it('relays every SSE event in order, unchanged', async () => {
    const r = await send(`${gateway.url}/v1/messages?beta=true`, {
      headers: JSON_HEADERS,
      body: STREAM_BODY,
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.body).toBe(SSE_EVENTS.join(''));
  });

  it('writes each event as soon as it arrives: the upstream waits until the client has the first event', async () => {
    let clientHasFirst!: () => void;
    const firstReceived = new Promise<void>((r) => (clientHasFirst = r));
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(SSE_EVENTS[0]);
      // If the gateway buffered, the client would never see the first event and this would wait forever.
      const held = await Promise.race([
        firstReceived.then(() => 'released'),
        new Promise((r) => setTimeout(() => r('timeout'), 5000)),
      ]);
      if (held === 'timeout') res.write('event: test\ndata: "the gateway held the first event back"\n\n');
      res.end(SSE_EVENTS.slice(1).join(''));
    };
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${gateway.url}/v1/messages`,
        { method: 'POST', headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(STREAM_BODY) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('message_start')) clientHasFirst();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(STREAM_BODY);
    });
    expect(body).toBe(SSE_EVENTS.join(''));
  });

  it('relays events split across upstream chunks without altering a byte', async () => {
    const all = SSE_EVENTS.join('');
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < all.length; i += 17) {
        res.write(all.slice(i, i + 17));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: STREAM_BODY });
    expect(r.body).toBe(all);
  });

  it('ends a stream that breaks mid-way with an SSE error event, never cleanly', async () => {
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Content first: a break before any content is retried or failed over unseen (ROUTING-6).
      res.write(SSE_EVENTS.slice(0, 4).join(''));
      res.write('event: content_block_delta\ndata: {"type":"content_blo');
      await new Promise((r) => setTimeout(r, 50));
      res.destroy();
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: STREAM_BODY });
    expect(r.status).toBe(200);
    expect(r.body.startsWith(SSE_EVENTS.slice(0, 4).join(''))).toBe(true);
    // The half-written event never reaches the client.
    expect(r.body.slice(SSE_EVENTS.slice(0, 4).join('').length)).not.toContain('content_blo');
    expect(r.body).not.toContain('message_stop');
    const last = r.body.trimEnd().split('\n\n').pop() ?? '';
    expect(last.split('\n')[0]).toBe('event: error');
    const data = JSON.parse(last.split('\n')[1]?.slice('data: '.length) ?? '');
    expect(data).toMatchObject({
      type: 'error',
      error: { type: 'api_error' },
      request_id: r.headers['request-id'],
    });
  });

  it('adds an error event when the upstream ends the stream before message_stop', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(SSE_EVENTS.slice(0, 4).join(''));
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: STREAM_BODY });
    expect(r.body.startsWith(SSE_EVENTS.slice(0, 4).join(''))).toBe(true);
    expect(r.body).toContain('event: error\ndata: {"type":"error","error":{"type":"api_error"');
  });

  it('relays an upstream error event as is, without adding another', async () => {
    const errorEvent =
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(SSE_EVENTS.slice(0, 4).join('') + errorEvent);
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: STREAM_BODY });
    expect(r.body).toBe(SSE_EVENTS.slice(0, 4).join('') + errorEvent);
  });
});

describe('back-pressure', () => {
  it('stops reading the upstream while the client does not read, and resumes when it does', async () => {
    const event = `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${'x'.repeat(16 * 1024)}"}}\n\n`;
    const TOTAL = 64 * 1024 * 1024;
    let written = 0;
    let blocked = false;
    upstream.handler = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(SSE_EVENTS[0]);
      while (written < TOTAL) {
        written += event.length;
        if (!res.write(event)) {
          blocked = true;
          await new Promise((r) => res.once('drain', r));
          blocked = false;
        }
      }
      res.end(SSE_EVENTS.slice(-2).join(''));
    };
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${gateway.url}/v1/messages`,
        { method: 'POST', headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(STREAM_BODY) } },
        (res) => {
          res.pause();
          // The client reads nothing for a while: the whole chain must back up instead of the gateway buffering.
          setTimeout(() => {
            try {
              expect(blocked).toBe(true);
              expect(written).toBeLessThan(TOTAL / 2);
            } catch (err) {
              reject(err);
              return;
            }
            res.on('data', (c: Buffer) => {
              received += c.length;
            });
            res.on('end', resolve);
            res.resume();
          }, 500);
        },
      );
      req.on('error', reject);
      req.end(STREAM_BODY);
    });
    expect(written).toBeGreaterThanOrEqual(TOTAL);
    expect(received).toBeGreaterThan(TOTAL);
  });
});

describe('client disconnect (INFERENCE-9)', () => {
  it('aborts the upstream request promptly when the client goes away mid-stream', async () => {
    let upstreamClosed = false;
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(SSE_EVENTS.slice(0, 4).join(''));
      res.on('close', () => {
        upstreamClosed = true;
      });
      // …and never finishes on its own.
    };
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${gateway.url}/v1/messages`,
        { method: 'POST', headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(STREAM_BODY) } },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end(STREAM_BODY);
    });
    await waitFor(() => upstreamClosed, 2000, 'the upstream request to be aborted');
    await waitFor(
      () => log.records().some((r) => r.msg === 'request' && r.error_type === 'client_closed'),
      2000,
      'the access log line',
    );
  });

  it('aborts the upstream request when the client goes away before the upstream answered', async () => {
    let upstreamClosed = false;
    let upstreamGotIt!: () => void;
    const arrived = new Promise<void>((r) => (upstreamGotIt = r));
    upstream.handler = (_req, res) => {
      res.on('close', () => {
        upstreamClosed = true;
      });
      upstreamGotIt();
    };
    const req = request(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(VALID_BODY) },
    });
    req.on('error', () => {});
    req.end(VALID_BODY);
    await arrived;
    req.destroy();
    await waitFor(() => upstreamClosed, 2000, 'the upstream request to be aborted');
  });
});

describe('request ids (ERRORS-2)', () => {
  it('puts a fresh req_ id on every response', async () => {
    const ids = new Set<string>();
    for (const path of ['/healthz', '/protocol', '/nope', '/v1/messages']) {
      const r = await send(`${gateway.url}${path}`, { headers: AUTH });
      expect(r.headers['request-id'], path).toMatch(/^req_[A-Za-z0-9]+$/);
      ids.add(r.headers['request-id'] as string);
    }
    expect(ids.size).toBe(4);
  });
});
