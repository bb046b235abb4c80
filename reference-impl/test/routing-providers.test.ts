/**
 * The router with Bedrock, Vertex and Anthropic targets, all the kit's mocks over real HTTP (issue 4): the
 * Bedrock failure modes (throttling, model not ready, service unavailable, an exception frame before content, a
 * refused credential) fail over invisibly; a ValidationException is answered once; an exception frame after
 * content ends the stream with an SSE error event; after message_stop a Bedrock body gets its grace to end (the
 * connection is then reused), and is cut when it does not.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import {
  type RecordedRequest as Exchange,
  type MockBedrock,
  type MockBedrockScript,
  startMockBedrock,
} from '../../conformance/src/mocks/bedrock/index.ts';
import { type MockVertex, startMockVertex } from '../../conformance/src/mocks/vertex/index.ts';
import { GatewayError } from '../src/errors.ts';
import { silentLogger } from '../src/log/logger.ts';
import { createRouter, type RouteRequest, type Router } from '../src/routing/route.ts';
import { createAnthropicUpstream, type Upstream } from '../src/upstream/anthropic.ts';
import { createBedrockUpstream } from '../src/upstream/bedrock/index.ts';
import { createVertexUpstream } from '../src/upstream/vertex/index.ts';
import { eventNames, fakeClock } from './routing-fakes.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };
const BEDROCK_MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
let bedrock: MockBedrock;
let anthropic: MockAnthropic;
let vertex: MockVertex;
const VERTEX_TOKEN = 'ya29.routing-test';
const VERTEX_MODEL = 'claude-sonnet-4-5@20250929';

function vertexUpstream(token = VERTEX_TOKEN): Upstream {
  const u = createVertexUpstream(
    {
      name: 'vertex',
      kind: 'vertex',
      projectId: 'ocg-routing',
      region: 'us-east5',
      baseUrl: `${vertex.url}/v1`,
      auth: { type: 'access-token', token },
      timeouts: TIMEOUTS,
    },
    silentLogger,
  );
  opened.push(u);
  return u;
}
const opened: Upstream[] = [];

function bedrockUpstream(auth?: { accessKeyId: string; secretAccessKey: string }): Upstream {
  const u = createBedrockUpstream(
    {
      name: 'bedrock',
      kind: 'bedrock',
      region: 'us-east-1',
      baseUrl: bedrock.url,
      auth: { type: 'sigv4', ...(auth ?? bedrock.credentials) },
      timeouts: TIMEOUTS,
    },
    silentLogger,
  );
  opened.push(u);
  return u;
}

function anthropicUpstream(): Upstream {
  const u = createAnthropicUpstream(
    {
      name: 'claude',
      kind: 'anthropic',
      baseUrl: anthropic.url,
      apiKey: anthropic.apiKey,
      timeouts: TIMEOUTS,
    },
    silentLogger,
  );
  opened.push(u);
  return u;
}

function router(targets: Array<{ upstream: Upstream; model?: string }>): Router {
  return createRouter([{ model: 'claude-sonnet-4-5', targets }], {
    logger: silentLogger,
    clock: fakeClock(),
    firstTokenMs: 2000,
    idleMs: 2000,
  });
}

const request: RouteRequest = {
  path: '/v1/messages',
  search: '?beta=true',
  rawHeaders: ['content-type', 'application/json', 'anthropic-version', '2023-06-01'],
  body: Buffer.from(
    JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 32,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  ),
  awaitsWholeAnswer: false,
};

async function text(body: Readable): Promise<string> {
  let out = '';
  for await (const chunk of body) out += (chunk as Buffer).toString('utf8');
  return out;
}

beforeAll(async () => {
  bedrock = await startMockBedrock({ region: 'us-east-1' });
  anthropic = await startMockAnthropic();
  vertex = await startMockVertex({ accessToken: VERTEX_TOKEN, projectId: 'ocg-routing' });
});
afterAll(async () => {
  await Promise.all(opened.map((u) => u.close()));
  await Promise.all([bedrock.close(), anthropic.close(), vertex.close()]);
});
beforeEach(() => {
  bedrock.reset();
  anthropic.reset();
  vertex.reset();
});

describe('Bedrock target, then the Claude API', () => {
  it.each<[string, MockBedrockScript]>([
    ['ThrottlingException (429)', { status: 429 }],
    ['ModelNotReadyException', { status: 429, errorType: 'ModelNotReadyException' }],
    ['ServiceUnavailableException (503)', { status: 503 }],
    ['InternalServerException (500)', { status: 500 }],
    [
      'a throttling exception frame before content',
      { exceptionAfter: { after: 1, exception: 'throttlingException' } },
    ],
    ['a reset before headers', { cutAfter: 0 }],
  ])('%s → the Claude API answers; the client sees one clean stream', async (_what, script) => {
    bedrock.enqueue({ ...script, times: 2 });
    const r = router([
      { upstream: bedrockUpstream(), model: BEDROCK_MODEL },
      { upstream: anthropicUpstream() },
    ]);
    const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    const names = eventNames(await text(routed.response.body));
    expect(names[0]).toBe('message_start');
    expect(names.at(-1)).toBe('message_stop');
    expect(names.filter((n) => n === 'message_start')).toHaveLength(1);
    expect([routed.upstream, routed.model]).toEqual(['claude', 'claude-sonnet-4-5']);
    expect(anthropic.requests).toHaveLength(1);
  });

  it('a refused Bedrock credential fails over at once (no second try at Bedrock)', async () => {
    const r = router([
      {
        upstream: bedrockUpstream({ accessKeyId: 'AKIAWRONG', secretAccessKey: 'wrong' }),
        model: BEDROCK_MODEL,
      },
      { upstream: anthropicUpstream() },
    ]);
    const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    await text(routed.response.body);
    expect(routed.upstream).toBe('claude');
    expect(bedrock.requests).toHaveLength(1);
    expect(routed.facts.attempts.map((a) => a.outcome)).toEqual(['upstream auth', 'ok']);
  });

  it('a ValidationException is answered once; the Claude API is not tried', async () => {
    bedrock.enqueue({ status: 400, message: 'arn:aws:bedrock:us-east-1:123456789012 input is too long' });
    const r = router([
      { upstream: bedrockUpstream(), model: BEDROCK_MODEL },
      { upstream: anthropicUpstream() },
    ]);
    const err = await r
      .send('claude-sonnet-4-5', request, { signal: new AbortController().signal })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect([err.status, err.type]).toEqual([400, 'invalid_request_error']);
    expect(err.message).not.toContain('123456789012');
    expect(anthropic.requests).toHaveLength(0);
  });

  it('an exception frame after content ends the stream with an SSE error event, not a clean end', async () => {
    bedrock.enqueue({ exceptionAfter: { after: 3, exception: 'modelStreamErrorException' } });
    const r = router([
      { upstream: bedrockUpstream(), model: BEDROCK_MODEL },
      { upstream: anthropicUpstream() },
    ]);
    const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    const names = eventNames(await text(routed.response.body));
    expect(names.at(-1)).toBe('error');
    expect(names).not.toContain('message_stop');
    expect(await routed.done).toMatchObject({ failed: true, upstream: 'bedrock', model: BEDROCK_MODEL });
    expect(anthropic.requests).toHaveLength(0);
  });
});

describe('Bedrock after message_stop (ROUTING-9, ROUTING-16)', () => {
  /** An answer, then a frame Bedrock would not send, held until release(): the body stays open after message_stop. */
  const openAfterStop: MockBedrockScript = {
    frames: [
      {
        event: 'message_start',
        data: {
          type: 'message_start',
          message: { id: 'msg_bdrk_1', type: 'message', role: 'assistant', content: [] },
        },
      },
      {
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      },
      { event: 'message_stop', data: { type: 'message_stop' } },
      { event: 'ping', data: { type: 'ping' } },
    ],
    holdAfter: 3,
  };
  const graceRouter = (stopGraceMs: number) =>
    createRouter(
      [{ model: 'claude-sonnet-4-5', targets: [{ upstream: bedrockUpstream(), model: BEDROCK_MODEL }] }],
      {
        logger: silentLogger,
        stopGraceMs,
      },
    );

  it('ends the client stream at message_stop while Bedrock keeps its body open, and cuts it after the grace', async () => {
    bedrock.enqueue(openAfterStop);
    const routed = await graceRouter(400).send('claude-sonnet-4-5', request, {
      signal: new AbortController().signal,
    });
    expect(eventNames(await text(routed.response.body))).toEqual([
      'message_start',
      'content_block_delta',
      'message_stop',
    ]);
    expect(await routed.done).toMatchObject({ failed: false, upstream: 'bedrock' });
    const seen = bedrock.requests[0] as Exchange;
    expect(await Promise.race([seen.outcome, sleep(200).then(() => 'open')])).toBe('open');
    expect(await seen.outcome).toBe('client-closed');
  });

  it('lets Bedrock end its body within the grace, so the next stream reuses the connection', async () => {
    bedrock.enqueue(openAfterStop);
    const r = graceRouter(2000);
    const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    expect(eventNames(await text(routed.response.body)).at(-1)).toBe('message_stop');
    await sleep(100);
    bedrock.release();
    const first = bedrock.requests[0] as Exchange;
    expect(await first.outcome).toBe('completed');
    await sleep(20); // the end of the body reaches the gateway's side a moment after the mock wrote it
    const next = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    expect(eventNames(await text(next.response.body)).at(-1)).toBe('message_stop');
    expect(bedrock.requests[1]?.connection).toBe(first.connection);
  });
});

describe('Vertex target, then Bedrock', () => {
  it.each<[string, Record<string, unknown>]>([
    ['RESOURCE_EXHAUSTED (429)', { status: 429 }],
    ['UNAVAILABLE (503)', { status: 503 }],
    ['overloaded_error (529)', { status: 529 }],
    ['a cut after message_start (before content)', { cutAfter: 1 }],
  ])('%s → Bedrock answers; the client sees one clean stream', async (_what, script) => {
    vertex.enqueue({ ...script, times: 2 });
    const r = router([
      { upstream: vertexUpstream(), model: VERTEX_MODEL },
      { upstream: bedrockUpstream(), model: BEDROCK_MODEL },
    ]);
    const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
    const names = eventNames(await text(routed.response.body));
    expect([names[0], names.at(-1)]).toEqual(['message_start', 'message_stop']);
    expect([routed.upstream, routed.model]).toEqual(['bedrock', BEDROCK_MODEL]);
  });

  it('a refused Vertex token fails over, and with nothing left the client gets 502 api_error, never 401', async () => {
    const r = router([{ upstream: vertexUpstream('ya29.wrong'), model: VERTEX_MODEL }]);
    const err = await r
      .send('claude-sonnet-4-5', request, { signal: new AbortController().signal })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect([err.status, err.type]).toEqual([502, 'api_error']);
    expect(vertex.requests).toHaveLength(1);
  });
});

describe('a clean stream leaves its upstream connection reusable (ROUTING-16)', () => {
  // Cutting the upstream after message_stop would cost every next stream a new TCP (and TLS) connection.
  it.each<
    [string, () => { upstream: Upstream; model?: string }, () => MockBedrock | MockAnthropic | MockVertex]
  >([
    ['bedrock', () => ({ upstream: bedrockUpstream(), model: BEDROCK_MODEL }), () => bedrock],
    ['anthropic', () => ({ upstream: anthropicUpstream() }), () => anthropic],
    ['vertex', () => ({ upstream: vertexUpstream(), model: VERTEX_MODEL }), () => vertex],
  ])('%s: three streams one after another share one connection', async (_kind, target, mock) => {
    const r = router([target()]);
    for (let i = 0; i < 3; i++) {
      const routed = await r.send('claude-sonnet-4-5', request, { signal: new AbortController().signal });
      expect(eventNames(await text(routed.response.body)).at(-1)).toBe('message_stop');
      expect(await (mock().requests[i] as { outcome: Promise<string> }).outcome).toBe('completed');
      // The upstream's end of the body reaches the gateway after the client's stream has ended.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seen = mock().requests.map((e) => e.connection);
    expect(seen).toEqual([seen[0], seen[0], seen[0]]);
  });
});
