/**
 * The mock Anthropic upstream is faithful enough for the official SDK (@anthropic-ai/sdk) to use it as if it were
 * the real API: plain and streamed messages, count_tokens, rate limits and mid-stream errors (protocol-facts §7).
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ANSWER, type MockAnthropic, startMockAnthropic } from '../src/mocks/anthropic/index.ts';

let mock: MockAnthropic;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockAnthropic({ apiKey: 'sk-ant-test-key' });
  client = new Anthropic({ apiKey: 'sk-ant-test-key', baseURL: mock.url, maxRetries: 0 });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const params = {
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'Say hello' }],
};

describe('mock Anthropic upstream, seen through the official SDK', () => {
  it('answers a non-streaming create with a Message echoing the model', async () => {
    const { data: message, response } = await client.messages.create(params).withResponse();
    expect(message.type).toBe('message');
    expect(message.model).toBe('claude-sonnet-4-5');
    expect(message.content[0]).toMatchObject({ type: 'text', text: DEFAULT_ANSWER });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('request-id')).toMatch(/^req_[A-Za-z0-9]+$/);
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toMatch(/^\d+$/);
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]?.headers.authorization).toBe('Bearer sk-ant-test-key');
    expect(mock.requests[0]?.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('streams a message the SDK assembles, with text deltas and pings', async () => {
    const stream = client.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (text) => deltas.push(text));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(DEFAULT_ANSWER);
    expect(final.content[0]).toMatchObject({ type: 'text', text: DEFAULT_ANSWER });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(1);
    const written = mock.requests[0]?.response?.body ?? '';
    expect(written).toContain('event: ping');
    expect(written.indexOf('event: message_start')).toBe(0);
    expect(written.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
  });

  it('counts tokens', async () => {
    const count = await client.messages.countTokens({ model: params.model, messages: params.messages });
    expect(count.input_tokens).toBeGreaterThan(0);
    expect(mock.requests[0]?.url).toBe('/v1/messages/count_tokens');
  });

  it('scripts a 429 that the SDK surfaces as RateLimitError with retry-after', async () => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '7' } });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const rate = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rate.status).toBe(429);
    expect(rate.headers?.get('retry-after')).toBe('7');
    expect(rate.requestID).toMatch(/^req_/);
    expect((rate.error as { error?: { type?: string } }).error?.type).toBe('rate_limit_error');
  });

  it('adds retry-after to a scripted 529 by default', async () => {
    mock.enqueue({ status: 529 });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('1');
  });

  it('surfaces an SSE error event after 200 as an APIError', async () => {
    mock.enqueue({
      events: [
        {
          event: 'message_start',
          data: {
            type: 'message_start',
            message: {
              id: 'msg_01x',
              type: 'message',
              role: 'assistant',
              model: params.model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 3, output_tokens: 1 },
            },
          },
        },
        {
          event: 'error',
          data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
        },
      ],
    });
    const stream = client.messages.stream(params);
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toContain('Overloaded');
  });

  it('refuses a wrong x-api-key with the authentication_error envelope', async () => {
    const wrong = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: mock.url, maxRetries: 0 });
    const err = await wrong.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it('holds a stream after K events until release, and notices a client that goes away', async () => {
    mock.enqueue({ holdAfter: 1 });
    const controller = new AbortController();
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': 'sk-ant-test-key',
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...params, stream: true }),
      signal: controller.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^event: message_start/);
    const held = await Promise.race([
      reader.read().then(() => 'data'),
      new Promise((r) => setTimeout(() => r('held'), 300)),
    ]);
    expect(held).toBe('held');
    controller.abort();
    const outcome = await mock.requests[0]?.outcome;
    expect(outcome).toBe('client-closed');
    expect(mock.requests[0]?.closedByClient).toBe(true);
  });

  it('cuts the connection before headers with cutAfter: 0', async () => {
    mock.enqueue({ cutAfter: 0 });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(await mock.requests[0]?.outcome).toBe('server-destroyed');
  });

  it('is controllable over HTTP under /__ocg/control', async () => {
    const enq = await fetch(`${mock.url}/__ocg/control/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ status: 503 }),
    });
    expect(enq.status).toBe(204);
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
    const recorded = (await (await fetch(`${mock.url}/__ocg/control/requests`)).json()) as Array<{
      url: string;
    }>;
    expect(recorded.map((r) => r.url)).toEqual(['/v1/messages']);
    const badScript = await fetch(`${mock.url}/__ocg/control/enqueue`, {
      method: 'POST',
      body: '{"nope":1}',
    });
    expect(badScript.status).toBe(400);
  });
});
