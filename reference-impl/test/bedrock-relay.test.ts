/**
 * The `bedrock` kind behind the router and relay.ts, as the inference handler wires them (`relayRouted`): what a
 * client receives over HTTP and what the request record gets (`ctx.facts` input/output tokens, error type) are the
 * same as through the anthropic kind, and Bedrock faults reach the client as Anthropic errors.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import {
  type MockBedrock,
  type MockBedrockScript,
  startMockBedrock,
} from '../../conformance/src/mocks/bedrock/index.ts';
import { parseSse } from '../../conformance/src/util/sse.ts';
import { isGatewayError } from '../src/errors.ts';
import type { RequestContext, RequestFacts } from '../src/http/context.ts';
import { silentLogger } from '../src/log/logger.ts';
import { createRouter, type Router } from '../src/routing/route.ts';
import { relayRouted } from '../src/routing/serve.ts';
import { createAnthropicUpstream, type Upstream } from '../src/upstream/anthropic.ts';
import { createBedrockUpstream } from '../src/upstream/bedrock/index.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };
const MODEL = 'claude-sonnet-4-5';
const conversation = {
  model: 'claude-sonnet-4-5',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'Hi' }],
};

let bedrock: MockBedrock;
let anthropic: MockAnthropic;
let kinds: Record<'bedrock' | 'anthropic', Upstream>;
let routers: Record<'bedrock' | 'anthropic', Router>;
let server: Server;
let base: string;
let lastFacts: RequestFacts = {};

/** A minimal gateway: POST /{kind}/v1/messages → router (one target of that kind) → relay.ts; errors rendered. */
beforeAll(async () => {
  bedrock = await startMockBedrock();
  anthropic = await startMockAnthropic();
  kinds = {
    bedrock: createBedrockUpstream(
      {
        name: 'b',
        kind: 'bedrock',
        region: 'us-east-1',
        baseUrl: bedrock.url,
        auth: { type: 'sigv4', ...bedrock.credentials },
        timeouts: TIMEOUTS,
      },
      silentLogger,
    ),
    anthropic: createAnthropicUpstream(
      { name: 'a', kind: 'anthropic', baseUrl: anthropic.url, apiKey: anthropic.apiKey, timeouts: TIMEOUTS },
      silentLogger,
    ),
  };
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const kind = (req.url ?? '').split('/')[1] as 'bedrock' | 'anthropic';
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const facts: RequestFacts = {};
    lastFacts = facts;
    const ctx = {
      requestId: 'req_test',
      res,
      signal: controller.signal,
      logger: silentLogger,
      facts,
    } as unknown as RequestContext;
    try {
      await relayRouted(ctx, routers[kind], MODEL, {
        path: '/v1/messages',
        search: '',
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
        awaitsWholeAnswer: !(JSON.parse(Buffer.concat(chunks).toString()) as { stream?: boolean }).stream,
      });
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      facts.errorType = err.type;
      const out = err.render('req_test');
      res.writeHead(out.status, out.headers).end(out.body);
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  await Promise.all([kinds.bedrock.close(), kinds.anthropic.close(), bedrock.close(), anthropic.close()]);
});
beforeEach(() => {
  bedrock.reset();
  anthropic.reset();
  // Fresh routers: one test's failures do not open the next one's circuit breaker.
  routers = {
    bedrock: createRouter(
      [
        {
          model: MODEL,
          targets: [{ upstream: kinds.bedrock, model: 'anthropic.claude-sonnet-4-5-20250929-v1:0' }],
        },
      ],
      { logger: silentLogger },
    ),
    anthropic: createRouter([{ model: MODEL, targets: [{ upstream: kinds.anthropic }] }], {
      logger: silentLogger,
    }),
  };
});

async function post(kind: 'bedrock' | 'anthropic', body: unknown) {
  const res = await fetch(`${base}/${kind}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  // What the record says of the answer (which upstream and model answered differs between the two kinds).
  const { inputTokens, outputTokens, errorType } = lastFacts;
  return { status: res.status, headers: res.headers, text, facts: { inputTokens, outputTokens, errorType } };
}

function strip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v) => (key === 'id' || key === 'model' ? undefined : v));
}

describe('bedrock kind through the router and relay.ts', () => {
  it('a non-streaming answer and its recorded usage match the anthropic kind', async () => {
    const b = await post('bedrock', conversation);
    const a = await post('anthropic', conversation);
    expect(b.status).toBe(200);
    expect(strip(JSON.parse(b.text))).toEqual(strip(JSON.parse(a.text)));
    expect(b.facts).toEqual(a.facts);
    expect(b.facts.outputTokens).toBeGreaterThan(0);
    expect(b.headers.get('upstream-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a streamed answer and its recorded usage match the anthropic kind (ping aside)', async () => {
    const b = await post('bedrock', { ...conversation, stream: true });
    const a = await post('anthropic', { ...conversation, stream: true });
    expect(b.status).toBe(200);
    expect(b.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const parse = (t: string) =>
      parseSse(t)
        .filter((e) => e.event !== 'ping')
        .map((e) => ({ event: e.event, data: strip(JSON.parse(e.data)) }));
    expect(parse(b.text)).toEqual(parse(a.text));
    expect(b.facts).toEqual(a.facts);
    expect(b.facts.inputTokens).toBeGreaterThan(0);
  });

  it.each([
    {
      name: 'an exception frame',
      script: { exceptionAfter: { after: 3, exception: 'throttlingException' } },
      type: 'rate_limit_error',
    },
    { name: 'a CRC-corrupt frame', script: { corruptAt: 3 }, type: 'api_error' },
    { name: 'a cut connection', script: { cutAfter: 3 }, type: 'api_error' },
  ] as Array<{ name: string; script: MockBedrockScript; type: string }>)(
    '$name mid-stream ends the client stream with an SSE error event ($type), recorded as failed',
    async ({ script, type }) => {
      bedrock.enqueue(script);
      const b = await post('bedrock', { ...conversation, stream: true });
      const got = parseSse(b.text);
      expect(got.map((e) => e.event)).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'error',
      ]);
      expect((JSON.parse(got[3]?.data ?? '{}') as { error: { type: string } }).error.type).toBe(type);
      expect(b.facts.errorType).toBe(type);
    },
  );

  it.each([
    { script: { status: 429 }, status: 429, type: 'rate_limit_error' },
    { script: { status: 503 }, status: 529, type: 'overloaded_error' },
    { script: { status: 403 }, status: 502, type: 'api_error' },
    { script: { status: 400 }, status: 400, type: 'invalid_request_error' },
  ] as Array<{ script: MockBedrockScript; status: number; type: string }>)(
    'Bedrock $script.status reaches the client as $status $type',
    async ({ script, status, type }) => {
      // Every attempt the router makes gets it (429 and 503 are retried, then answered).
      bedrock.enqueue({ ...script, message: 'arn:aws:iam::123456789012:role/x', times: 20 });
      const b = await post('bedrock', conversation);
      expect(b.status).toBe(status);
      const body = JSON.parse(b.text) as { error: { type: string; message: string } };
      expect(body.error.type).toBe(type);
      expect(b.text).not.toContain('123456789012');
    },
  );
});
