/**
 * Client-visible parity of the `vertex` kind with the `anthropic` kind: each upstream behind the unchanged relay.ts
 * (a minimal server doing what the inference handler does: send, relay, render a GatewayError), against its kit
 * mock. The same conversation, streamed and not, and the same failures, must look the same to the client (issue 4
 * "identical client-visible results"), ids and token estimates aside.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Operation } from '@ocg/spec';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { type MockVertex, startMockVertex } from '../../conformance/src/mocks/vertex/index.ts';
import { isGatewayError } from '../src/errors.ts';
import type { RequestContext } from '../src/http/context.ts';
import { silentLogger } from '../src/log/logger.ts';
import { createAnthropicUpstream, type Upstream } from '../src/upstream/anthropic.ts';
import { relayResponse } from '../src/upstream/relay.ts';
import { createVertexUpstream } from '../src/upstream/vertex/index.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };
const KEY = 'sk-ant-relay-test';
const TOKEN = 'ya29.relay-test';

let anthropicMock: MockAnthropic;
let vertexMock: MockVertex;
const fronts: Record<string, { server: Server; url: string; upstream: Upstream }> = {};

/** A server relaying every POST to `upstream` the way handlers/inference.ts does. */
async function front(upstream: Upstream): Promise<{ server: Server; url: string; upstream: Upstream }> {
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://front');
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      const ctx = {
        requestId: 'req_test',
        req,
        res,
        operation: {} as Operation,
        url,
        startedAt: new Date(),
        signal: abort.signal,
        logger: silentLogger,
        principal: null,
        admin: null,
        params: {},
        body: null,
        facts: {},
      } satisfies RequestContext;
      const stream = (JSON.parse(body.toString()) as { stream?: boolean }).stream === true;
      try {
        const response = await upstream.send({
          path: url.pathname,
          search: url.search,
          rawHeaders: req.rawHeaders,
          body,
          signal: abort.signal,
          awaitsWholeAnswer: !stream && url.pathname === '/v1/messages',
          upstreamModel: upstream.kind === 'vertex' ? 'claude-sonnet-4-5@20250929' : undefined,
        });
        await relayResponse(ctx, response);
      } catch (err) {
        if (!isGatewayError(err)) throw err;
        const r = err.render(ctx.requestId);
        res.writeHead(r.status, r.headers).end(r.body);
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, upstream };
}

beforeAll(async () => {
  anthropicMock = await startMockAnthropic({ apiKey: KEY });
  vertexMock = await startMockVertex({ accessToken: TOKEN });
  fronts.anthropic = await front(
    createAnthropicUpstream(
      { name: 'a', kind: 'anthropic', baseUrl: anthropicMock.url, apiKey: KEY, timeouts: TIMEOUTS },
      silentLogger,
    ),
  );
  fronts.vertex = await front(
    createVertexUpstream(
      {
        name: 'v',
        kind: 'vertex',
        projectId: 'p',
        region: 'us-east5',
        baseUrl: `${vertexMock.url}/v1`,
        auth: { type: 'access-token', token: TOKEN },
        timeouts: TIMEOUTS,
      },
      silentLogger,
    ),
  );
});
afterAll(async () => {
  for (const f of Object.values(fronts)) {
    await new Promise<void>((r) => f.server.close(() => r()));
    await f.upstream.close();
  }
  await anthropicMock?.close();
  await vertexMock?.close();
});
beforeEach(() => {
  anthropicMock.reset();
  vertexMock.reset();
});

const conversation = {
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: 'Say hello' }],
};

async function call(kind: 'anthropic' | 'vertex', body: unknown, path = '/v1/messages') {
  const res = await fetch(`${fronts[kind]?.url}${path}?beta=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      authorization: 'Bearer gateway-session-token',
    },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text: await res.text(),
    headers: res.headers,
  };
}

/** The answer with what legitimately differs per provider (ids, token estimates, the echoed model) masked. */
function normalise(text: string): string {
  return text
    .replace(/"id":"msg_[A-Za-z0-9_]+"/g, '"id":"msg"')
    .replace(/"(input_tokens|output_tokens)":\d+/g, '"$1":0')
    .replace(/"model":"[^"]+"/g, '"model":"m"');
}

describe('vertex behind relay.ts looks like anthropic behind relay.ts', () => {
  it('non-streaming: the same Message', async () => {
    const a = await call('anthropic', conversation);
    const v = await call('vertex', conversation);
    expect([a.status, v.status]).toEqual([200, 200]);
    expect(v.contentType).toBe(a.contentType);
    expect(normalise(v.text)).toBe(normalise(a.text));
    expect(JSON.parse(v.text).id).toMatch(/^msg_vrtx_/);
  });

  it('streaming: the same SSE events', async () => {
    const a = await call('anthropic', { ...conversation, stream: true });
    const v = await call('vertex', { ...conversation, stream: true });
    expect([a.status, v.status]).toEqual([200, 200]);
    expect(v.contentType).toMatch(/^text\/event-stream/);
    expect(normalise(v.text)).toBe(normalise(a.text));
  });

  it('count_tokens: the same shape', async () => {
    const body = { model: conversation.model, messages: conversation.messages };
    const a = await call('anthropic', body, '/v1/messages/count_tokens');
    const v = await call('vertex', body, '/v1/messages/count_tokens');
    expect(normalise(v.text)).toBe(normalise(a.text));
  });

  it.each([
    [429, 429, 'rate_limit_error'],
    [400, 400, 'invalid_request_error'],
    [404, 404, 'not_found_error'],
    [500, 500, 'api_error'],
    [529, 529, 'overloaded_error'],
    [401, 502, 'api_error'],
    [403, 502, 'api_error'],
  ])(
    'an upstream %i reaches the client as %i %s from either provider',
    async (status, clientStatus, type) => {
      anthropicMock.enqueue({ status, headers: { 'retry-after': '3' } });
      vertexMock.enqueue({ status, headers: { 'retry-after': '3' } });
      const a = await call('anthropic', conversation);
      const v = await call('vertex', conversation);
      for (const r of [a, v]) {
        expect(r.status).toBe(clientStatus);
        expect(JSON.parse(r.text)).toMatchObject({ type: 'error', error: { type } });
      }
      expect(JSON.parse(v.text).error.message).toBe(JSON.parse(a.text).error.message);
      if (clientStatus === 429 || clientStatus === 529) expect(v.headers.get('retry-after')).toBe('3');
    },
  );
});
