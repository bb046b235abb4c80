/**
 * Refusals before the upstream (ERRORS-3/4/5, INFERENCE-10) and upstream failures (ERRORS-6), all in the
 * Anthropic envelope with the response's request id (ERRORS-1/2).
 */

import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import type { Gateway } from '../src/gateway.ts';
import { readBody } from '../src/http/body.ts';
import {
  AUTH,
  type CapturedLogger,
  defaultUpstreamHandler,
  JSON_HEADERS,
  OTHER_TOKEN,
  type SendResult,
  SSE_EVENTS,
  send,
  startTestGateway,
  startUpstream,
  type TestUpstream,
  TOKEN,
  VALID_BODY,
} from './helpers.ts';

let upstream: TestUpstream;
let gateway: Gateway;
let log: CapturedLogger;
const LIMIT = 1048576;

beforeAll(async () => {
  upstream = await startUpstream();
  ({ gateway, log } = await startTestGateway({
    upstreamUrl: upstream.url,
    maxRequestBodyBytes: LIMIT,
    timeouts: { firstByteMs: 300, idleMs: 300 },
  }));
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});
afterEach(() => {
  upstream.handler = defaultUpstreamHandler;
  upstream.requests.length = 0;
});

function expectEnvelope(r: SendResult, status: number, type: string): { message: string } {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toBe('application/json');
  const body = JSON.parse(r.body);
  expect(body).toEqual({
    type: 'error',
    error: { type, message: expect.any(String) },
    request_id: r.headers['request-id'],
  });
  expect(body.request_id).toMatch(/^req_[A-Za-z0-9]+$/);
  return body.error;
}

describe('authentication (INFERENCE-10)', () => {
  const cases: Array<[name: string, headers: Record<string, string>]> = [
    ['no credentials', {}],
    ['wrong bearer', { authorization: `Bearer ${TOKEN}x` }],
    ['wrong x-api-key', { 'x-api-key': 'nope' }],
    ['basic scheme', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['two different credentials', { authorization: `Bearer ${TOKEN}`, 'x-api-key': OTHER_TOKEN }],
  ];
  it.each(cases)('%s → 401 authentication_error, upstream untouched', async (_name, headers) => {
    const r = await send(`${gateway.url}/v1/messages`, {
      headers: { ...headers, 'content-type': 'application/json' },
      body: VALID_BODY,
    });
    expectEnvelope(r, 401, 'authentication_error');
    expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(upstream.requests).toHaveLength(0);
  });

  it('accepts every configured token and attaches its subject', async () => {
    for (const [token, subject] of [
      [TOKEN, 'dev-user'],
      [OTHER_TOKEN, 'other-user'],
    ] as const) {
      const r = await send(`${gateway.url}/v1/messages/count_tokens`, {
        headers: { authorization: `bearer ${token}` },
        body: JSON.stringify({ model: 'm', messages: [] }),
      });
      expect(r.status).toBe(200);
      const line = log.records().find((l) => l.msg === 'request' && l.request_id === r.headers['request-id']);
      expect(line?.subject).toBe(subject);
    }
  });
});

describe('request bodies (ERRORS-3, ERRORS-4, ERRORS-5)', () => {
  const cases: Array<[name: string, body: string | Buffer, status: number, type: string, message: RegExp]> = [
    ['not JSON', '{"model":', 400, 'invalid_request_error', /not valid JSON/],
    ['empty body', '', 400, 'invalid_request_error', /empty/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 'invalid_request_error', /not valid JSON/],
    ['JSON but not an object', '[1,2]', 400, 'invalid_request_error', /Invalid request body/],
    [
      'schema violation',
      JSON.stringify({ model: 'm', max_tokens: 'x', messages: [] }),
      400,
      'invalid_request_error',
      /\/max_tokens: must be integer/,
    ],
    ['missing model', JSON.stringify({ max_tokens: 1, messages: [] }), 400, 'invalid_request_error', /model/],
    ['too large', Buffer.alloc(LIMIT + 1, 0x20), 413, 'request_too_large', /limit of 1048576 bytes/],
  ];
  it.each(cases)('%s → %i %s, upstream untouched', async (_name, body, status, type, message) => {
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
    expect(expectEnvelope(r, status, type).message).toMatch(message);
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers 413 to a client that sends a body many times the limit in one go, connection after connection', async () => {
    // The refusal is decided from content-length before the body arrives; the gateway must keep reading (and
    // discarding) what is still in flight, or the kernel resets the connection under the client's feet.
    const body = Buffer.alloc(8 * LIMIT, 0x20);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: JSON_HEADERS, body });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('request_too_large');
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('accepts a body exactly at the limit (then validates it)', async () => {
    const padding = 'x'.repeat(LIMIT - Buffer.byteLength(VALID_BODY) - 12);
    const body = `${VALID_BODY.slice(0, -1)},"pad":"${padding}"}`;
    const r = await send(`${gateway.url}/v1/messages`, {
      headers: JSON_HEADERS,
      body: body.padEnd(LIMIT, ' '),
    });
    expect(r.status).toBe(200);
  });

  it('refuses a chunked body without content-length with 411', async () => {
    const r = await send(`${gateway.url}/v1/messages`, {
      headers: JSON_HEADERS,
      body: VALID_BODY,
      chunked: true,
    });
    expectEnvelope(r, 411, 'invalid_request_error');
    expect(upstream.requests).toHaveLength(0);
  });

  it('stops reading as soon as the cap is crossed when no content-length announced the size', async () => {
    const stream = new PassThrough();
    const req = Object.assign(stream, { headers: {}, complete: false }) as unknown as IncomingMessage;
    const pending = readBody(req, 1000);
    stream.write(Buffer.alloc(600));
    stream.write(Buffer.alloc(600));
    await expect(pending).rejects.toMatchObject({ code: 'ERR_BODY_TOO_LARGE', status: 413 });
    expect(stream.listenerCount('data')).toBe(0);
  });
});

describe('routing errors', () => {
  it('answers unknown paths with a 404 not_found_error envelope', async () => {
    const r = await send(`${gateway.url}/v1/unknown?x=1`, { headers: AUTH });
    expectEnvelope(r, 404, 'not_found_error');
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const r = await send(`${gateway.url}/v1/messages`, { headers: AUTH });
    expectEnvelope(r, 405, 'invalid_request_error');
    expect(r.headers.allow).toBe('POST');
  });
});

describe('upstream failures (ERRORS-6)', () => {
  it('answers 502 api_error when the upstream cannot be reached', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const other = await startTestGateway({ upstreamUrl: `http://127.0.0.1:${port}` });
    try {
      const r = await send(`${other.gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
      expectEnvelope(r, 502, 'api_error');
    } finally {
      await other.gateway.close();
    }
  });

  const timeoutCases: Array<[name: string, path: string, body: string]> = [
    ['streaming message', '/v1/messages', JSON.stringify({ ...JSON.parse(VALID_BODY), stream: true })],
    ['count_tokens', '/v1/messages/count_tokens', JSON.stringify({ model: 'm', messages: [] })],
  ];
  it.each(timeoutCases)(
    'answers 504 api_error when the upstream does not answer in time (%s)',
    async (_n, path, body) => {
      upstream.handler = () => {}; // never answers
      const r = await send(`${gateway.url}${path}`, { headers: JSON_HEADERS, body });
      expectEnvelope(r, 504, 'api_error');
    },
  );

  const statusCases: Array<
    [
      name: string,
      status: number,
      body: string,
      headers: Record<string, string>,
      want: { status: number; type: string },
    ]
  > = [
    [
      'upstream 401 is never a 401',
      401,
      '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
      {},
      { status: 502, type: 'api_error' },
    ],
    [
      'upstream 403 is never a 403',
      403,
      '{"type":"error","error":{"type":"permission_error","message":"acct 1234"}}',
      {},
      { status: 502, type: 'api_error' },
    ],
    [
      'upstream 529 keeps overloaded_error',
      529,
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
      {},
      { status: 529, type: 'overloaded_error' },
    ],
    [
      'upstream 429 keeps rate_limit_error',
      429,
      '{"type":"error","error":{"type":"rate_limit_error","message":"org 123 limit"}}',
      { 'retry-after': '7' },
      { status: 429, type: 'rate_limit_error' },
    ],
    [
      'upstream 400 keeps invalid_request_error',
      400,
      '{"type":"error","error":{"type":"invalid_request_error","message":"arn:aws:bedrock:123456789012 bad"}}',
      {},
      { status: 400, type: 'invalid_request_error' },
    ],
    [
      'upstream 500 without an envelope',
      500,
      'Internal Server Error',
      {},
      { status: 500, type: 'api_error' },
    ],
    [
      'upstream 503 with an unknown error type',
      503,
      '{"type":"error","error":{"type":"weird_error","message":"x"}}',
      {},
      { status: 503, type: 'api_error' },
    ],
  ];
  it.each(statusCases)('%s', async (_name, status, body, headers, want) => {
    upstream.handler = (_req, res) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': 'req_upstreamerr',
        ...headers,
      });
      res.end(body);
    };
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body: VALID_BODY });
    const error = expectEnvelope(r, want.status, want.type);
    // Upstream messages can carry account ids: the client gets a generic one, the operator's log the original.
    expect(error.message).not.toContain('123');
    expect(error.message).not.toContain('x-api-key');
    if (headers['retry-after']) expect(r.headers['retry-after']).toBe(headers['retry-after']);
    const logged = log
      .records()
      .find((l) => l.msg === 'upstream answered an error' && l.request_id === r.headers['request-id']);
    expect(logged?.upstream_status).toBe(status);
  });

  it('ends a stream that stalls past the idle timeout with an SSE error event', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Content first (a stall before any content is retried or failed over unseen, ROUTING-6), then silence.
      res.write(SSE_EVENTS.slice(0, 4).join(''));
    };
    const r = await send(`${gateway.url}/v1/messages`, {
      headers: JSON_HEADERS,
      body: JSON.stringify({ ...JSON.parse(VALID_BODY), stream: true }),
    });
    expect(r.status).toBe(200);
    expect(r.body.startsWith(SSE_EVENTS.slice(0, 4).join(''))).toBe(true);
    expect(r.body).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    expect(r.body).not.toContain('message_stop');
  });
});

describe('robustness', () => {
  it('survives garbage on the wire and keeps serving', async () => {
    const { port } = new URL(gateway.url);
    const payloads = [
      'GARBAGE\r\n\r\n',
      'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n',
      `POST /v1/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 100\r\n\r\n{"partial":`,
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
      'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n',
      '\u0000\u0001\u0002\r\n\r\n',
    ];
    for (const payload of payloads) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(payload);
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    const methods = ['PUT', 'DELETE', 'PATCH', 'OPTIONS'];
    for (const method of methods) {
      const r = await send(`${gateway.url}/v1/messages`, { method, headers: AUTH });
      expect(r.headers['request-id']).toMatch(/^req_/);
    }
    const weirdBodies = [
      'null',
      '"x"',
      '1e999',
      '{"model":{"$ref":"#"}}',
      '{"__proto__":{"x":1}}',
      '['.repeat(10_000),
    ];
    for (const body of weirdBodies) {
      const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
      expect(r.status).toBe(400);
    }
    const health = await send(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers malformed HTTP with an envelope carrying a request id', async () => {
    const { port } = new URL(gateway.url);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        text += c;
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/request-id: req_[A-Za-z0-9]+/);
    expect(answer).toContain('"type":"invalid_request_error"');
  });

  it('GatewayError renders the envelope itself', () => {
    const err = new GatewayError('ERR_BODY_TOO_LARGE', 'too big');
    expect(err.render('req_abc')).toEqual({
      status: 413,
      headers: { 'content-type': 'application/json', 'content-length': expect.any(String) },
      body: '{"type":"error","error":{"type":"request_too_large","message":"too big"},"request_id":"req_abc"}',
    });
  });
});
