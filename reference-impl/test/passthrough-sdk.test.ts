/**
 * The Bedrock- and Vertex-shaped surfaces (PASSTHROUGH-1…7) through the real gateway, driven by the official SDKs
 * exactly as a client configured for those providers would be, but pointed at the gateway and signed in with the
 * gateway's bearer token:
 *
 * - `@anthropic-ai/bedrock-sdk` with `baseURL` = the gateway, `skipAuth: true` and the bearer in `defaultHeaders`
 *   (and, the way Claude Code does it, the bearer as a Bedrock API key);
 * - `@anthropic-ai/vertex-sdk` with `baseURL` = `<gateway>/v1` and an auth client whose access token is the bearer.
 *
 * Each gets the same conversation as `/v1/messages` (streaming and not), the allowlist's refusal in the provider's
 * error shape, 401 without a bearer, and leaves the same `inference_requests` row.
 */
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import {
  captureLogger,
  defaultUpstreamHandler,
  ENV,
  MESSAGE,
  OTHER_TOKEN,
  SSE_EVENTS,
  send,
  startUpstream,
  type TestUpstream,
  TOKEN,
  testConfigYaml,
} from './helpers.ts';
import { recordFor, vertexThrough } from './passthrough-clients.ts';

const MODELS = `models:
  - { id: claude-sonnet-4-5-20250929, displayName: Claude Sonnet 4.5, aliases: [claude-sonnet-4-5] }
  - { id: claude-haiku-4-5-20251001, displayName: Claude Haiku 4.5, aliases: [claude-haiku-4-5] }
  - { id: claude-opus-4-1, displayName: Claude Opus 4.1 }
  - { id: claude-opus-4-5-20251101, displayName: Claude Opus 4.5 }
policies:
  - { name: limited, match: { users: [other-user] }, models: [claude-sonnet-4-5] }
  - { name: everyone, match: { everyone: true }, models: ['*'] }
log:`;

/** The shared test config with this file's catalogue and policies. */
function configYaml(upstreamUrl: string): string {
  const base = testConfigYaml({ upstreamUrl });
  return base.replace(/models:[\s\S]*?\nlog:/, MODELS);
}

let upstream: TestUpstream;
let gateway: Gateway;

beforeAll(async () => {
  upstream = await startUpstream();
  gateway = await startGateway(parseConfig(configYaml(upstream.url), ENV), {
    logger: captureLogger().logger,
  });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const PARAMS = {
  model: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Hello' }],
};

function bedrock(token: string | null, how: 'headers' | 'api-key' = 'headers'): AnthropicBedrock {
  const auth =
    how === 'api-key' && token !== null
      ? { apiKey: token }
      : { skipAuth: true, defaultHeaders: token === null ? {} : { authorization: `Bearer ${token}` } };
  return new AnthropicBedrock({ baseURL: gateway.url, awsRegion: 'us-east-1', maxRetries: 0, ...auth });
}

/** What the upstream was sent last, as JSON, with its anthropic headers. */
function lastUpstream(): { url: string; body: Record<string, unknown>; version: unknown; beta: unknown } {
  const r = upstream.requests.at(-1);
  if (!r) throw new Error('the upstream saw nothing');
  return {
    url: r.url,
    body: JSON.parse(r.body.toString('utf8')) as Record<string, unknown>,
    version: r.headers['anthropic-version'],
    beta: r.headers['anthropic-beta'],
  };
}

const STREAM_TEXT = 'Hello';

/** What the SDKs throw for an HTTP error (APIError): status, headers and the parsed body. */
interface SdkError {
  status: number;
  headers: Headers;
  error: unknown;
}

async function failure(request: PromiseLike<unknown>): Promise<SdkError> {
  try {
    await request;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the request to fail');
}

describe('Bedrock pass-through with @anthropic-ai/bedrock-sdk', () => {
  it.each([
    ['skipAuth + bearer header', 'headers'],
    ['the bearer as a Bedrock API key', 'api-key'],
  ] as const)('answers a message like /v1/messages (%s)', async (_what, how) => {
    const { data, response } = await bedrock(TOKEN, how).messages.create(PARAMS).withResponse();
    expect(data).toEqual(MESSAGE);
    const sent = lastUpstream();
    expect(sent.url).toBe('/v1/messages');
    expect(sent.body).toEqual({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
    });
    expect(sent.version).toBe('2023-06-01');
    const row = await recordFor(gateway, response.headers.get('request-id') as string);
    expect(row).toMatchObject({
      subject: 'dev-user',
      model: 'claude-sonnet-4-5-20250929',
      stream: false,
      status: 200,
      input_tokens: 25,
      output_tokens: 12,
    });
  });

  it('moves the betas the SDK put in anthropic_beta back into the anthropic-beta header', async () => {
    await bedrock(TOKEN).beta.messages.create({ ...PARAMS, betas: ['context-1m-2025-08-07'] });
    const sent = lastUpstream();
    expect(sent.beta).toBe('context-1m-2025-08-07');
    expect(sent.body).not.toHaveProperty('anthropic_beta');
    expect(sent.body).not.toHaveProperty('betas');
  });

  it('streams: the SDK decodes the event stream into the same events as /v1/messages', async () => {
    const stream = bedrock(TOKEN).messages.stream({
      ...PARAMS,
      model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalMessage();
    const want = SSE_EVENTS.map(
      (e) => (JSON.parse(e.split('data: ')[1] as string) as { type: string }).type,
    ).filter((t) => t !== 'ping');
    expect(types.filter((t) => t !== 'ping')).toEqual(want);
    expect(final.content).toMatchObject([{ type: 'text', text: STREAM_TEXT }]);
    expect(lastUpstream().body).toMatchObject({ model: 'claude-haiku-4-5-20251001', stream: true });
  });

  it('writes CRC-valid chunk frames whose bytes are the upstream events, and records the stream', async () => {
    const modelId = encodeURIComponent('global.anthropic.claude-sonnet-4-5-20250929-v1:0');
    const r = await fetch(`${gateway.url}/model/${modelId}/invoke-with-response-stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        anthropic_version: 'bedrock-2023-05-31',
        anthropic_beta: ['interleaved-thinking-2025-05-14'],
        max_tokens: 16,
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const bytes = Buffer.from(await r.arrayBuffer());
    const events: string[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const length = bytes.readUInt32BE(offset);
      const message = codec.decode(bytes.subarray(offset, offset + length)); // throws on a bad CRC
      expect(message.headers[':event-type']?.value).toBe('chunk');
      expect(message.headers[':message-type']?.value).toBe('event');
      const payload = JSON.parse(toUtf8(message.body)) as { bytes: string };
      events.push(Buffer.from(payload.bytes, 'base64').toString('utf8'));
      offset += length;
    }
    const upstreamEvents = SSE_EVENTS.map((e) => (e.split('data: ')[1] as string).trim());
    expect(events.slice(0, -1)).toEqual(upstreamEvents.slice(0, -1));
    // Like Bedrock, the last chunk carries the invocation metrics (from the stream's usage).
    expect(JSON.parse(events.at(-1) as string)).toEqual({
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: 450,
        outputTokenCount: 53,
        invocationLatency: expect.any(Number),
        firstByteLatency: expect.any(Number),
      },
    });
    expect(lastUpstream().beta).toBe('interleaved-thinking-2025-05-14');
    expect(lastUpstream().body).not.toHaveProperty('anthropic_beta');
    expect(lastUpstream().body).not.toHaveProperty('anthropic_version');
    const row = await recordFor(gateway, r.headers.get('request-id') as string);
    expect(row).toMatchObject({
      model: 'claude-sonnet-4-5-20250929',
      stream: true,
      status: 200,
      output_tokens: 53,
    });
  });

  it('refuses a model the policy does not allow as a Bedrock ValidationException, before the upstream', async () => {
    const before = upstream.requests.length;
    const err = await failure(
      bedrock(OTHER_TOKEN).messages.create({ ...PARAMS, model: 'anthropic.claude-opus-4-1-20250805-v1:0' }),
    );
    expect(err.status).toBe(400);
    expect(err.headers.get('x-amzn-errortype')).toMatch(/^ValidationException:/);
    expect(err.error).toEqual({ message: expect.stringContaining("not allowed by policy 'limited'") });
    expect(upstream.requests.length).toBe(before);
  });

  it('refuses an unknown model and a bad body in Bedrock shape', async () => {
    const unknown = await send(`${gateway.url}/model/anthropic.claude-nonesuch-9-v1:0/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1, messages: [] }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers['x-amzn-errortype']).toMatch(/^ValidationException:/);
    expect(JSON.parse(unknown.body)).toEqual({ message: expect.stringContaining("'claude-nonesuch-9'") });
    const bad = await send(`${gateway.url}/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ max_tokens: 1, messages: [] }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ message: 'anthropic_version is required (a string).' });
    // Checks the pipeline makes before the handler runs answer in the same shape.
    const notJson = await send(`${gateway.url}/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.headers['x-amzn-errortype']).toMatch(/^ValidationException:/);
    expect(JSON.parse(notJson.body)).toEqual({ message: expect.any(String) });
    const vertexNotJson = await send(
      `${gateway.url}/v1/projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4-5:rawPredict`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '[1]',
      },
    );
    expect(vertexNotJson.status).toBe(400);
    expect(JSON.parse(vertexNotJson.body)).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT' },
    });
  });

  it('answers 401 in Bedrock shape without a bearer, or with a wrong one', async () => {
    for (const token of [null, 'tok_wrong_0123456789abcdefghijklmnop']) {
      const err = await failure(bedrock(token).messages.create(PARAMS));
      expect(err.status).toBe(401);
      expect(err.headers.get('x-amzn-errortype')).toMatch(/^UnrecognizedClientException:/);
      expect(err.error).toEqual({ message: expect.any(String) });
    }
  });

  it('turns an upstream error into the Bedrock exception, with a generic message', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        '{"type":"error","error":{"type":"not_found_error","message":"no model in account 123456789012"}}',
      );
    };
    try {
      const r = await send(`${gateway.url}/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1, messages: [] }),
      });
      expect(r.status).toBe(404);
      expect(r.headers['x-amzn-errortype']).toMatch(/^ResourceNotFoundException:/);
      expect(JSON.parse(r.body)).toEqual({ message: expect.any(String) });
      expect(r.body).not.toContain('123456789012');
    } finally {
      upstream.handler = defaultUpstreamHandler;
    }
  });

  it('ends a stream cut by the upstream with an exception frame the SDK raises', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(SSE_EVENTS.slice(0, 4).join('')); // no message_stop
    };
    try {
      const stream = bedrock(TOKEN).messages.stream(PARAMS);
      const error = await (async () => {
        for await (const _ of stream) {
          // read to the end
        }
      })().catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
    } finally {
      upstream.handler = defaultUpstreamHandler;
    }
  });
});

describe('Vertex pass-through with @anthropic-ai/vertex-sdk', () => {
  it('answers a message like /v1/messages and records it', async () => {
    const { data, response } = await vertexThrough(gateway.url, TOKEN)
      .messages.create({ ...PARAMS, model: 'claude-sonnet-4-5@20250929' })
      .withResponse();
    expect(data).toEqual(MESSAGE);
    expect(lastUpstream().body).toEqual({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
    });
    const row = await recordFor(gateway, response.headers.get('request-id') as string);
    expect(row).toMatchObject({ subject: 'dev-user', model: 'claude-sonnet-4-5-20250929', status: 200 });
  });

  it('streams the same events as /v1/messages', async () => {
    const stream = vertexThrough(gateway.url, TOKEN).messages.stream({
      ...PARAMS,
      model: 'claude-haiku-4-5@20251001',
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('message_stop');
    expect((await stream.finalMessage()).content).toMatchObject([{ type: 'text', text: STREAM_TEXT }]);
    expect(lastUpstream().body).toMatchObject({ model: 'claude-haiku-4-5-20251001', stream: true });
  });

  it('refuses a denied model and a missing bearer in the Google error envelope', async () => {
    const denied = await failure(
      vertexThrough(gateway.url, OTHER_TOKEN).messages.create({ ...PARAMS, model: 'claude-opus-4-1' }),
    );
    expect(denied.status).toBe(400);
    expect(denied.error).toEqual({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining("policy 'limited'") },
    });
    const anonymous = await failure(
      vertexThrough(gateway.url, null).messages.create({ ...PARAMS, model: 'claude-sonnet-4-5@20250929' }),
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.error).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
  });
});
