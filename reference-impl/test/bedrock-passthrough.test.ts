/**
 * The Bedrock pass-through building blocks (upstream/bedrock/passthrough.ts), assembled into a minimal Bedrock-shaped
 * endpoint in front of the anthropic kind and driven by the official @anthropic-ai/bedrock-sdk: a Bedrock client
 * gets the same answer, streamed as CRC-valid event-stream frames it decodes, betas arrive as `anthropic-beta`, and
 * errors come back in Bedrock's shape (PASSTHROUGH-1, -5, -6). (issue 4, not yet wired)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_ANSWER,
  type MockAnthropic,
  startMockAnthropic,
} from '../../conformance/src/mocks/anthropic/index.ts';
import { decodeFrame, splitFrames } from '../../conformance/src/mocks/bedrock/index.ts';
import { silentLogger } from '../src/log/logger.ts';
import { createAnthropicUpstream, type Upstream } from '../src/upstream/anthropic.ts';
import {
  bedrockErrorFor,
  EVENT_STREAM_CONTENT_TYPE,
  fromBedrockInvokeBody,
  renderBedrockError,
  sseToEventStream,
} from '../src/upstream/bedrock/passthrough.ts';
import type { SseFacts } from '../src/upstream/sse.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };
const MODEL_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
let anthropic: MockAnthropic;
let upstream: Upstream;
let server: Server;
let client: AnthropicBedrock;
let lastFacts: SseFacts | undefined;

beforeAll(async () => {
  anthropic = await startMockAnthropic();
  upstream = createAnthropicUpstream(
    { name: 'a', kind: 'anthropic', baseUrl: anthropic.url, apiKey: anthropic.apiKey, timeouts: TIMEOUTS },
    silentLogger,
  );
  // The pass-through as the gateway would wire it (minus auth, policy and routing).
  server = createServer(async (req, res): Promise<void> => {
    const m = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(req.url ?? '');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (e: ReturnType<typeof renderBedrockError>): void => {
      res.writeHead(e.status, e.headers).end(e.body);
    };
    if (!m) return send(renderBedrockError(404, 'not_found_error', 'Unknown operation'));
    const stream = m[2] === 'invoke-with-response-stream';
    const parsed = fromBedrockInvokeBody(Buffer.concat(chunks), 'claude-sonnet-4-5', stream);
    if (!parsed.ok) return send(renderBedrockError(400, 'invalid_request_error', parsed.message));
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const answer = await upstream.send({
      path: '/v1/messages',
      search: '',
      rawHeaders: [
        'content-type',
        'application/json',
        'anthropic-version',
        '2023-06-01',
        ...(parsed.betas.length ? ['anthropic-beta', parsed.betas.join(',')] : []),
      ],
      body: Buffer.from(JSON.stringify(parsed.body)),
      signal: controller.signal,
      awaitsWholeAnswer: !stream,
    });
    if (answer.status >= 400) {
      let text = '';
      for await (const c of answer.body) text += c;
      const type = (JSON.parse(text) as { error: { type: string } }).error.type;
      const retryAfter = answer.headers['retry-after'];
      return send(
        renderBedrockError(answer.status, type, 'The upstream refused the request.', {
          ...(typeof retryAfter === 'string' ? { 'retry-after': retryAfter } : {}),
        }),
      );
    }
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      answer.body.pipe(res);
      return;
    }
    const { body, facts } = sseToEventStream(answer.body, silentLogger);
    lastFacts = facts;
    res.writeHead(200, { 'content-type': EVENT_STREAM_CONTENT_TYPE });
    body.pipe(res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  client = new AnthropicBedrock({
    skipAuth: true,
    awsRegion: 'us-east-1',
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    maxRetries: 0,
  });
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  await upstream.close();
  await anthropic.close();
});
beforeEach(() => {
  anthropic.reset();
  lastFacts = undefined;
});

const params = { model: MODEL_ID, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('Bedrock pass-through, seen through @anthropic-ai/bedrock-sdk', () => {
  it('answers invoke with the Anthropic Message', async () => {
    const message = await client.messages.create(params);
    expect(message.content[0]).toMatchObject({ type: 'text', text: DEFAULT_ANSWER });
    const sent = JSON.parse(anthropic.requests[0]?.body ?? '{}') as Record<string, unknown>;
    expect(sent.model).toBe('claude-sonnet-4-5');
    expect(sent).not.toHaveProperty('anthropic_version');
  });

  it('streams event-stream frames the SDK decodes into the same answer, with usage facts', async () => {
    let raw = new Uint8Array();
    const capturing = client.withOptions({
      fetch: async (input: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(input, init);
        raw = new Uint8Array(await res.clone().arrayBuffer());
        return res;
      },
    });
    const deltas: string[] = [];
    const stream = capturing.messages.stream(params);
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.join('')).toBe(DEFAULT_ANSWER);
    expect(final.stop_reason).toBe('end_turn');
    const frames = splitFrames(raw).map(decodeFrame);
    expect(frames.length).toBeGreaterThan(4);
    for (const f of frames)
      expect(f.headers).toMatchObject({ ':message-type': 'event', ':event-type': 'chunk' });
    const types = frames.map((f) => {
      const event = JSON.parse(
        Buffer.from((JSON.parse(f.payload) as { bytes: string }).bytes, 'base64').toString(),
      );
      return (event as { type: string }).type;
    });
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types).not.toContain('ping');
    expect(lastFacts).toMatchObject({ stopped: true, outputTokens: final.usage.output_tokens });
  });

  it('sends anthropic_beta on as the anthropic-beta header', async () => {
    await client.beta.messages.create({ ...params, betas: ['context-1m-2025-08-07', 'effort-2025-11-24'] });
    expect(anthropic.requests[0]?.headers['anthropic-beta']).toBe('context-1m-2025-08-07,effort-2025-11-24');
    expect(JSON.parse(anthropic.requests[0]?.body ?? '{}')).not.toHaveProperty('anthropic_beta');
  });

  it('answers an upstream 429 as a Bedrock ThrottlingException, keeping retry-after', async () => {
    anthropic.enqueue({ status: 429, headers: { 'retry-after': '4' } });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnthropicBedrock.RateLimitError);
    const e = err as InstanceType<typeof AnthropicBedrock.RateLimitError>;
    expect(e.headers?.get('x-amzn-errortype')).toMatch(/^ThrottlingException:/);
    expect(e.headers?.get('retry-after')).toBe('4');
    expect(e.error).toEqual({ message: expect.any(String) });
  });

  it.each([
    { name: 'an SSE error event', fault: 'error-event', exception: /serviceUnavailableException/ },
    { name: 'a cut stream', fault: 'cut', exception: /internalServerException/ },
  ])(
    'ends a stream that fails after it started with an exception frame ($name)',
    async ({ fault, exception }) => {
      if (fault === 'error-event') {
        anthropic.enqueue({
          events: [
            {
              event: 'message_start',
              data: {
                type: 'message_start',
                message: {
                  id: 'msg_1',
                  type: 'message',
                  role: 'assistant',
                  model: 'm',
                  content: [],
                  usage: { input_tokens: 1, output_tokens: 1 },
                },
              },
            },
            {
              event: 'error',
              data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
            },
          ],
        });
      } else {
        anthropic.enqueue({ cutAfter: 3 });
      }
      const err = await client.messages
        .stream(params)
        .finalMessage()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AnthropicBedrock.APIError);
      expect(String((err as Error).message)).toMatch(exception);
      expect(lastFacts?.upstreamErrorType).toBeDefined();
    },
  );

  it.each([
    {
      name: 'model in the body',
      body: { model: 'x', anthropic_version: 'bedrock-2023-05-31', messages: [] },
    },
    {
      name: 'stream in the body',
      body: { stream: true, anthropic_version: 'bedrock-2023-05-31', messages: [] },
    },
    { name: 'no anthropic_version', body: { messages: [] } },
    {
      name: 'betas not an array',
      body: { anthropic_version: 'bedrock-2023-05-31', anthropic_beta: 'x', messages: [] },
    },
  ])('refuses $name with 400 ValidationException, without calling upstream', async ({ body }) => {
    const r = fromBedrockInvokeBody(Buffer.from(JSON.stringify(body)), 'm', false);
    expect(r.ok).toBe(false);
    const res = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/model/${MODEL_ID}/invoke`,
      {
        method: 'POST',
        body: JSON.stringify(body),
      },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toMatch(/^ValidationException:/);
    expect(anthropic.requests).toHaveLength(0);
  });
});

describe('bedrockErrorFor (PASSTHROUGH-6)', () => {
  it.each([
    [400, 'invalid_request_error', 400, 'ValidationException'],
    [401, 'authentication_error', 401, 'UnrecognizedClientException'],
    [403, 'permission_error', 403, 'AccessDeniedException'],
    [404, 'not_found_error', 404, 'ResourceNotFoundException'],
    [429, 'rate_limit_error', 429, 'ThrottlingException'],
    [500, 'api_error', 500, 'InternalServerException'],
    [502, 'api_error', 500, 'InternalServerException'],
    [529, 'overloaded_error', 503, 'ServiceUnavailableException'],
    [504, 'timeout_error', 408, 'ModelTimeoutException'],
    [501, 'not_supported', 400, 'ValidationException'],
  ])('%i %s → %i %s', (status, type, want, name) => {
    expect(bedrockErrorFor(status, type)).toEqual({ status: want, name });
  });
});
