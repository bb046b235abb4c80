/**
 * The router over real HTTP (issue 4): two instances of the kit's Anthropic mock as targets, reached through the
 * existing `createAnthropicUpstream`, and the answer relayed to an HTTP client by the existing relay.ts — the path
 * the inference handler will take once the router is wired.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { GatewayError } from '../src/errors.ts';
import type { RequestContext, RequestFacts } from '../src/http/context.ts';
import { createLogger } from '../src/log/logger.ts';
import { createRouter, type Router, type RouterOptions } from '../src/routing/route.ts';
import { relayRouted } from '../src/routing/serve.ts';
import { createAnthropicUpstream, type Upstream } from '../src/upstream/anthropic.ts';
import { eventNames, expectSleeps, fakeClock } from './routing-fakes.ts';

const MODEL = 'claude-test-1';
let mockA: MockAnthropic;
let mockB: MockAnthropic;
const upstreams: Upstream[] = [];
const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger({ level: 'debug', write: (l) => logLines.push(JSON.parse(l)) });

function upstream(name: string, mock: MockAnthropic, apiKey = mock.apiKey): Upstream {
  const u = createAnthropicUpstream(
    {
      name,
      kind: 'anthropic',
      baseUrl: mock.url,
      apiKey,
      timeouts: { connectMs: 2000, firstByteMs: 2000, idleMs: 10_000 },
    },
    logger,
  );
  upstreams.push(u);
  return u;
}

interface Gateway {
  url: string;
  router: Router;
  /** `ctx.facts` of each request, as the request record reads them. */
  facts: RequestFacts[];
  /** Copies of `ctx.facts` taken when the response closed. */
  atClose: RequestFacts[];
  /** Per response, the bytes of each socket write. */
  flushes: string[][];
  close(): Promise<void>;
}

/** A minimal gateway: router.send, then relay.ts, errors rendered as the pipeline renders them. */
async function gateway(targets: Upstream[], options: Partial<RouterOptions> = {}): Promise<Gateway> {
  const router = createRouter([{ model: MODEL, targets: targets.map((u) => ({ upstream: u })) }], {
    logger,
    clock: fakeClock(),
    firstTokenMs: 400,
    idleMs: 400,
    ...options,
  });
  const facts: RequestFacts[] = [];
  const atClose: RequestFacts[] = [];
  const flushes: string[][] = [];
  const server: Server = createServer(async (req, res) => {
    // What each response hands the kernel, one entry per socket write (net.Socket's _write / _writev).
    const sent: string[] = [];
    flushes.push(sent);
    const socket = res.socket as unknown as {
      _write: (chunk: Buffer | string, encoding: BufferEncoding, cb: () => void) => void;
      _writev: (chunks: Array<{ chunk: Buffer | string }>, cb: () => void) => void;
    };
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (chunk, encoding, cb) => {
      sent.push(String(chunk));
      write(chunk, encoding, cb);
    };
    socket._writev = (chunks, cb) => {
      sent.push(chunks.map((c) => String(c.chunk)).join(''));
      writev(chunks, cb);
    };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client gone'));
    });
    const ctx = {
      requestId: 'req_gw',
      res,
      signal: ac.signal,
      logger,
      facts: {},
    } as unknown as RequestContext;
    facts.push(ctx.facts);
    // What the request record reads: ctx.facts as they are when the client's socket closes (http/server.ts).
    res.on('close', () => atClose.push({ ...ctx.facts }));
    try {
      await relayRouted(ctx, router, MODEL, {
        path: '/v1/messages',
        search: '',
        rawHeaders: req.rawHeaders,
        body,
        awaitsWholeAnswer: !String(body).includes('"stream":true'),
      });
    } catch (err) {
      if (err instanceof GatewayError && !res.headersSent) {
        const r = err.render('req_gw');
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      } else {
        res.destroy();
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    router,
    facts,
    atClose,
    flushes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function post(gw: Gateway, stream: boolean, signal?: AbortSignal) {
  return fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: 16,
      stream,
      messages: [{ role: 'user', content: 'hi' }],
    }),
    signal,
  });
}

const ev = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

beforeAll(async () => {
  mockA = await startMockAnthropic();
  mockB = await startMockAnthropic();
});
afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  await Promise.all([mockA.close(), mockB.close()]);
});
beforeEach(() => {
  mockA.reset();
  mockB.reset();
});

describe('failover over real HTTP, invisible to the client', () => {
  it.each([
    ['529 with retry-after', { status: 529 }],
    ['500', { status: 500 }],
    ['429', { status: 429 }],
    ['a reset before headers', { cutAfter: 0 }],
    ['a cut after message_start (before content)', { cutAfter: 1 }],
    ['silence after message_start past the first-token limit', { holdAfter: 1 }],
  ])('%s on A → B answers the stream; the client sees one clean answer', async (_what, script) => {
    const gw = await gateway([upstream('a', mockA), upstream('b', mockB)]);
    mockA.enqueue(script);
    const res = await post(gw, true);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(eventNames(text)[0]).toBe('message_start');
    expect(eventNames(text).at(-1)).toBe('message_stop');
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(mockA.requests).toHaveLength(1);
    expect(mockB.requests).toHaveLength(1);
    expect(gw.facts[0]).toMatchObject({ upstream: 'b' });
    expect(gw.facts[0]?.errorType).toBeUndefined();
    expect(gw.facts[0]?.outputTokens).toBeGreaterThan(0);
    await gw.close();
  });

  it('an upstream 401 (wrong gateway key at A) → B; with B also wrong → 502 api_error, never 401', async () => {
    const gw = await gateway([upstream('a', mockA, 'sk-wrong'), upstream('b', mockB)]);
    const res = await post(gw, false);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { type: string }).type).toBe('message');

    const gw2 = await gateway([upstream('a', mockA, 'sk-wrong'), upstream('b', mockB, 'sk-wrong-too')]);
    const res2 = await post(gw2, true);
    expect(res2.status).toBe(502);
    const body = (await res2.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).not.toContain('x-api-key');
    await Promise.all([gw.close(), gw2.close()]);
  });

  it('a 400 is answered once, with the upstream status and type and a generic message; B is never called', async () => {
    const gw = await gateway([upstream('a', mockA), upstream('b', mockB)]);
    mockA.enqueue({
      status: 400,
      body: {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'prompt is too long for project 4711' },
      },
    });
    const res = await post(gw, true);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string }; request_id: string };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).not.toContain('4711');
    expect(body.request_id).toBe('req_gw');
    expect(mockA.requests).toHaveLength(1);
    expect(mockB.requests).toHaveLength(0);
    await gw.close();
  });

  it('retry-after-ms on the only target is waited for (virtual clock), then the retry answers', async () => {
    const clock = fakeClock();
    const gw = await gateway([upstream('a', mockA)], { clock });
    mockA.enqueue({ status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '2' } });
    const res = await post(gw, false);
    expect(res.status).toBe(200);
    expect(mockA.requests).toHaveLength(2);
    expectSleeps(clock.sleeps, [1500]);
    await gw.close();
  });
});

describe('streams after content over real HTTP', () => {
  it('a cut after content → the client gets an SSE error event, not a clean end; recorded failed', async () => {
    const gw = await gateway([upstream('a', mockA), upstream('b', mockB)]);
    mockA.enqueue({ cutAfter: 4 });
    const res = await post(gw, true);
    expect(res.status).toBe(200);
    const text = await res.text();
    const names = eventNames(text);
    expect(names.at(-1)).toBe('error');
    expect(names).not.toContain('message_stop');
    expect(text).toContain('"type":"api_error"');
    expect(mockB.requests).toHaveLength(0);
    expect(gw.facts[0]?.errorType).toBe('api_error'); // the record marks the request failed
    await gw.close();
  });

  it('a stall after content past the idle limit → an SSE error event', async () => {
    const gw = await gateway([upstream('a', mockA)]);
    mockA.enqueue({ holdAfter: 4 });
    const started = Date.now();
    const text = await (await post(gw, true)).text();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(eventNames(text).at(-1)).toBe('error');
    expect(text).toContain('The upstream stream stalled.');
    await gw.close();
  });

  it('message_stop then upstream silence → the client stream ends cleanly', async () => {
    const gw = await gateway([upstream('a', mockA)], { idleMs: 30_000 });
    const transcript = [
      ev('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          model: MODEL,
          usage: { input_tokens: 3, output_tokens: 1 },
        },
      }),
      ev('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }),
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hi' },
      }),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 2 },
      }),
      ev('message_stop', { type: 'message_stop' }),
      ev('ping', { type: 'ping' }),
    ].join('');
    mockA.enqueue({ transcript, holdAfter: 6 });
    const started = Date.now();
    const text = await (await post(gw, true)).text();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(eventNames(text).at(-1)).toBe('message_stop');
    expect(gw.facts[0]).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    expect(gw.facts[0]?.errorType).toBeUndefined();
    await gw.close();
  });

  it('a clean stream leaves the upstream exchange completed, not cut (its connection stays reusable)', async () => {
    const gw = await gateway([upstream('a', mockA)]);
    const text = await (await post(gw, true)).text();
    expect(eventNames(text).at(-1)).toBe('message_stop');
    const seen = await mockA.waitForRequest(() => true, 2000);
    expect(await seen.outcome).toBe('completed');
    await gw.close();
  });

  it('message_stop and the end of the chunked response leave in one socket write', async () => {
    const gw = await gateway([upstream('a', mockA)]);
    expect(eventNames(await (await post(gw, true)).text()).at(-1)).toBe('message_stop');
    const last = gw.flushes[0]?.at(-1) ?? '';
    expect(last).toContain('event: message_stop');
    expect(last.endsWith('\r\n0\r\n\r\n')).toBe(true);
    await gw.close();
  });

  it('a malformed event is dropped; the rest arrives byte for byte', async () => {
    const gw = await gateway([upstream('a', mockA)]);
    const good = [
      ev('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_2',
          type: 'message',
          role: 'assistant',
          content: [],
          model: MODEL,
          usage: { input_tokens: 3, output_tokens: 1 },
        },
      }),
      ev('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }),
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hi' },
      }),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('message_stop', { type: 'message_stop' }),
    ];
    const bad = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty\n\n';
    mockA.enqueue({ transcript: [...good.slice(0, 3), bad, ...good.slice(3)].join('') });
    const text = await (await post(gw, true)).text();
    expect(text).toBe(good.join(''));
    expect(logLines.some((l) => l.msg === 'dropped a malformed upstream SSE event')).toBe(true);
    await gw.close();
  });

  it('a client disconnect mid-stream aborts the upstream request promptly', async () => {
    const gw = await gateway([upstream('a', mockA)], { idleMs: 30_000 });
    mockA.enqueue({ holdAfter: 4 });
    const client = new AbortController();
    const res = await post(gw, true, client.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const seen = await mockA.waitForRequest(() => true, 2000);
    client.abort();
    const t0 = Date.now();
    while (!seen.closedByClient && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
    expect(seen.closedByClient).toBe(true);
    expect(gw.facts[0]?.inputTokens).toBeGreaterThan(0);
    await gw.close();
  });

  it('a client disconnect during hold-back aborts the upstream and still records the usage seen', async () => {
    const gw = await gateway([upstream('a', mockA)], { firstTokenMs: 30_000 });
    mockA.enqueue({ holdAfter: 1 });
    const client = new AbortController();
    const pending = post(gw, true, client.signal).catch((err: unknown) => err);
    const seen = await mockA.waitForRequest(() => true, 2000);
    await new Promise((r) => setTimeout(r, 100)); // message_start is held by the router now
    client.abort();
    await pending;
    const t0 = Date.now();
    while (!seen.closedByClient && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
    expect(seen.closedByClient).toBe(true);
    while (gw.atClose.length === 0 && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 20));
    expect(gw.atClose[0]).toMatchObject({ upstream: 'a', upstreamModel: MODEL });
    expect(gw.atClose[0]?.inputTokens).toBeGreaterThan(0);
    await gw.close();
  });
});
