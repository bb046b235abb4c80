/**
 * The kit's Anthropic mock (conformance/src/mocks/anthropic) driven by the official `@anthropic-ai/sdk`, the way a
 * gateway's real upstream would be: messages.create, messages.stream (text and tool use assembled by the SDK),
 * countTokens, and the SDK's own retry logic reacting to the mock's `retry-after`, `retry-after-ms` and
 * `x-should-retry` exactly as it reacts to the real API's (protocol-facts §1 "SDK retry behaviour", §7). The SDK
 * accepting every answer is the proof that the mock is faithful; mock-anthropic.test.ts covers the scripting API.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ANSWER, type MockAnthropic, startMockAnthropic } from '../src/mocks/anthropic/index.ts';

const KEY = 'sk-ant-sdk-test-key';
let mock: MockAnthropic;

const client = (maxRetries = 0) => new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries });

beforeAll(async () => {
  mock = await startMockAnthropic({ apiKey: KEY });
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const params = {
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }],
};

function apiError(err: unknown): InstanceType<typeof Anthropic.APIError> {
  expect(err).toBeInstanceOf(Anthropic.APIError);
  return err as InstanceType<typeof Anthropic.APIError>;
}

describe('@anthropic-ai/sdk against the kit Anthropic mock', () => {
  it('messages.create: a typed Message with usage and the request id', async () => {
    const message = await client().messages.create(params);
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: params.model,
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: DEFAULT_ANSWER }],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message._request_id).toMatch(/^req_/);
    expect(mock.requests[0]?.headers['x-stainless-retry-count']).toBe('0');
  });

  it('messages.stream: text events, cumulative usage and the final message', async () => {
    const stream = client().messages.stream(params);
    const types: string[] = [];
    const texts: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types).not.toContain('ping'); // sent on the wire, skipped by the SDK's parser
    expect(mock.requests[0]?.response?.body).toContain('event: ping');
    expect(texts.join('')).toBe(DEFAULT_ANSWER);
    expect(final.content).toEqual([{ type: 'text', text: DEFAULT_ANSWER }]);
    expect(final.usage.output_tokens).toBeGreaterThan(1);
  });

  it('messages.stream: a scripted tool_use stream, the SDK assembling input_json_delta', async () => {
    mock.enqueue({
      events: [
        {
          event: 'message_start',
          data: {
            type: 'message_start',
            message: {
              id: 'msg_01tool',
              type: 'message',
              role: 'assistant',
              model: params.model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 12, output_tokens: 1 },
            },
          },
        },
        {
          event: 'content_block_start',
          data: {
            type: 'content_block_start',
            index: 0,
            content_block: { type: 'tool_use', id: 'toolu_01x', name: 'get_weather', input: {} },
          },
        },
        {
          event: 'content_block_delta',
          data: {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: '{"city": "Par' },
          },
        },
        {
          event: 'content_block_delta',
          data: {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'input_json_delta', partial_json: 'is"}' },
          },
        },
        { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
        {
          event: 'message_delta',
          data: {
            type: 'message_delta',
            delta: { stop_reason: 'tool_use', stop_sequence: null },
            usage: { input_tokens: 12, output_tokens: 20 },
          },
        },
        { event: 'message_stop', data: { type: 'message_stop' } },
      ],
    });
    const final = await client().messages.stream(params).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[0]).toMatchObject({
      type: 'tool_use',
      name: 'get_weather',
      input: { city: 'Paris' },
    });
    expect(final.usage).toMatchObject({ input_tokens: 12, output_tokens: 20 });
  });

  it('messages.countTokens', async () => {
    const count = await client().messages.countTokens({ model: params.model, messages: params.messages });
    expect(count.input_tokens).toBeGreaterThan(0);
    expect(mock.requests[0]?.url).toBe('/v1/messages/count_tokens');
  });

  it('a 429 with retry-after: the SDK waits that long, retries, and succeeds', async () => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const message = await client(1).messages.create(params);
    expect(message.content[0]).toMatchObject({ text: DEFAULT_ANSWER });
    expect(mock.requests).toHaveLength(2);
    const gap = (mock.requests[1]?.receivedAt ?? 0) - (mock.requests[0]?.receivedAt ?? 0);
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(mock.requests[1]?.headers['x-stainless-retry-count']).toBe('1');
  });

  it('retry-after-ms takes precedence over retry-after', async () => {
    mock.enqueue({ status: 529, headers: { 'retry-after-ms': '50', 'retry-after': '30' } });
    const started = Date.now();
    await client(1).messages.create(params);
    expect(mock.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a 429 the SDK gives up on surfaces as RateLimitError carrying retry-after and the envelope', async () => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '7' } });
    const err = apiError(
      await client()
        .messages.create(params)
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err.headers?.get('retry-after')).toBe('7');
    expect(err.requestID).toMatch(/^req_/);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('x-should-retry: false stops the SDK retrying a 503', async () => {
    mock.enqueue({ status: 503, headers: { 'x-should-retry': 'false' } });
    const err = apiError(
      await client(2)
        .messages.create(params)
        .catch((e: unknown) => e),
    );
    expect(err.status).toBe(503);
    expect(mock.requests).toHaveLength(1);
  });

  it('an aborted stream closes the connection to the mock', async () => {
    mock.enqueue({ holdAfter: 2 });
    const stream = client().messages.stream(params);
    await new Promise<void>((resolve) => stream.once('streamEvent', () => resolve()));
    stream.abort();
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    expect(await mock.requests[0]?.outcome).toBe('client-closed');
  });
});
