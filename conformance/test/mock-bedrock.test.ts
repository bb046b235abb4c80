/**
 * The mock Bedrock runtime is faithful enough for the official @anthropic-ai/bedrock-sdk to use it as if it were
 * Amazon Bedrock: SigV4 (service bedrock) or a Bedrock API key, plain and streamed messages over CRC-valid event
 * streams with padding, betas in the body, Bedrock error shapes and exception frames (protocol-facts §2, §7). It
 * refuses what real Bedrock refuses: a bad signature, a tampered body, `model` in the body.
 */
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_ANSWER,
  decodeFrame,
  type MockBedrock,
  splitFrames,
  startMockBedrock,
} from '../src/mocks/bedrock/index.ts';

const MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const params = {
  model: MODEL,
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'Say hello' }],
};

let mock: MockBedrock;
let client: AnthropicBedrock;

function sdk(overrides: Record<string, unknown> = {}): AnthropicBedrock {
  return new AnthropicBedrock({
    awsAccessKey: mock.credentials.accessKeyId,
    awsSecretKey: mock.credentials.secretAccessKey,
    awsRegion: 'us-east-1',
    baseURL: mock.url,
    maxRetries: 0,
    ...overrides,
  });
}

/** A request signed like the AWS SDK does, for bodies the Bedrock SDK would never send. */
async function signedPost(
  path: string,
  body: string,
  tamper?: (signed: string) => string,
): Promise<Response> {
  const url = new URL(path, mock.url);
  const signer = new SignatureV4({
    service: 'bedrock',
    region: 'us-east-1',
    credentials: mock.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers.host;
  return fetch(url, { method: 'POST', headers, body: tamper ? tamper(body) : body });
}

beforeAll(async () => {
  mock = await startMockBedrock({ region: 'us-east-1' });
  client = sdk();
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

describe('mock Bedrock runtime, seen through @anthropic-ai/bedrock-sdk', () => {
  it('answers a SigV4-signed invoke with an Anthropic Message and Bedrock headers', async () => {
    const { data: message, response } = await client.messages.create(params).withResponse();
    expect(message.id).toMatch(/^msg_bdrk_/);
    expect(message.model).toBe('claude-sonnet-4-5-20250929');
    expect(message.content[0]).toMatchObject({ type: 'text', text: DEFAULT_ANSWER });
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(response.headers.get('x-amzn-bedrock-input-token-count'))).toBe(message.usage.input_tokens);
    expect(Number(response.headers.get('x-amzn-bedrock-output-token-count'))).toBe(
      message.usage.output_tokens,
    );

    const seen = mock.requests[0];
    expect(seen?.url).toBe(`/model/${MODEL}/invoke`);
    expect(seen?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${mock.credentials.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`,
      ),
    );
    const body = JSON.parse(seen?.body ?? '{}') as Record<string, unknown>;
    expect(body).not.toHaveProperty('model');
    expect(body).not.toHaveProperty('stream');
    expect(body.anthropic_version).toEqual(expect.any(String));
  });

  it('streams CRC-valid, padded event-stream frames the SDK assembles into the same answer', async () => {
    let raw: Uint8Array | undefined;
    const capturing = sdk({
      fetch: async (input: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(input, init);
        raw = new Uint8Array(await res.clone().arrayBuffer());
        return res;
      },
    });
    const stream = capturing.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(DEFAULT_ANSWER);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(1);
    expect(mock.requests[0]?.url).toBe(`/model/${MODEL}/invoke-with-response-stream`);
    expect(mock.requests[0]?.response?.headers['content-type']).toBe('application/vnd.amazon.eventstream');

    const frames = splitFrames(raw ?? new Uint8Array());
    expect(frames.length).toBeGreaterThan(4);
    const events = frames.map((f) => {
      const { headers, payload } = decodeFrame(f); // throws on a bad CRC
      expect(headers).toMatchObject({
        ':event-type': 'chunk',
        ':content-type': 'application/json',
        ':message-type': 'event',
      });
      const chunk = JSON.parse(payload) as { bytes: string; p: string };
      expect(chunk.p).toMatch(/^[A-Za-z0-9]+$/);
      return JSON.parse(Buffer.from(chunk.bytes, 'base64').toString('utf8')) as Record<string, unknown>;
    });
    expect(events.map((e) => e.type)).not.toContain('ping');
    expect(events[0]?.type).toBe('message_start');
    const stop = events.at(-1) as Record<string, Record<string, number>>;
    expect(stop.type).toBe('message_stop');
    expect(stop['amazon-bedrock-invocationMetrics']).toMatchObject({
      inputTokenCount: final.usage.input_tokens,
      outputTokenCount: final.usage.output_tokens,
    });
  });

  it('accepts a Bedrock API key as Authorization: Bearer and refuses a wrong one', async () => {
    const keyed = new AnthropicBedrock({
      apiKey: mock.apiKey,
      awsRegion: 'us-east-1',
      baseURL: mock.url,
      maxRetries: 0,
    });
    const message = await keyed.messages.create(params);
    expect(message.content[0]).toMatchObject({ text: DEFAULT_ANSWER });
    expect(mock.requests[0]?.headers.authorization).toBe(`Bearer ${mock.apiKey}`);

    const wrong = new AnthropicBedrock({
      apiKey: 'ABSKnot-the-key',
      awsRegion: 'us-east-1',
      baseURL: mock.url,
      maxRetries: 0,
    });
    const err = await wrong.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnthropicBedrock.PermissionDeniedError);
  });

  it('moves betas into anthropic_beta in the body, where the mock reads them', async () => {
    await client.beta.messages.create({ ...params, betas: ['interleaved-thinking-2025-05-14'] });
    const body = JSON.parse(mock.requests[0]?.body ?? '{}') as Record<string, unknown>;
    expect(body.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
  });

  it.each([
    {
      name: 'a wrong secret key',
      make: () => sdk({ awsSecretKey: 'not-the-secret' }),
      code: 'InvalidSignatureException',
    },
    {
      name: 'an unknown access key',
      make: () => sdk({ awsAccessKey: 'AKIAUNKNOWN000000000' }),
      code: 'UnrecognizedClientException',
    },
    {
      name: 'another region',
      make: () => sdk({ awsRegion: 'eu-west-1' }),
      code: 'InvalidSignatureException',
    },
    {
      name: 'an unexpected session token',
      make: () => sdk({ awsSessionToken: 'FwoG-token' }),
      code: 'UnrecognizedClientException',
    },
    {
      name: 'no credentials at all',
      make: () =>
        new AnthropicBedrock({ skipAuth: true, awsRegion: 'us-east-1', baseURL: mock.url, maxRetries: 0 }),
      code: 'MissingAuthenticationTokenException',
    },
  ])('refuses $name with 403 and x-amzn-ErrorType $code', async ({ make, code }) => {
    const err = await make()
      .messages.create(params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnthropicBedrock.PermissionDeniedError);
    const e = err as InstanceType<typeof AnthropicBedrock.PermissionDeniedError>;
    expect(e.status).toBe(403);
    expect(e.headers?.get('x-amzn-errortype')).toBe(
      `${code}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    );
    expect(e.error).toEqual({ message: expect.any(String) });
  });

  it('refuses a body changed after signing', async () => {
    const body = JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 5,
      messages: params.messages,
    });
    const ok = await signedPost(`/model/${MODEL}/invoke`, body);
    expect(ok.status).toBe(200);
    const tampered = await signedPost(`/model/${MODEL}/invoke`, body, (b) =>
      b.replace('"max_tokens":5', '"max_tokens":9'),
    );
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-errortype')).toMatch(/^InvalidSignatureException:/);
  });

  it.each([
    { name: 'model in the body', body: { model: MODEL }, message: /extraneous key \[model\]/ },
    { name: 'stream in the body', body: { stream: true }, message: /extraneous key \[stream\]/ },
    { name: 'no anthropic_version', body: { anthropic_version: undefined }, message: /anthropic_version/ },
    {
      name: 'a wrong anthropic_version',
      body: { anthropic_version: 'vertex-2023-10-16' },
      message: /API version/,
    },
  ])('answers 400 ValidationException for $name', async ({ body, message }) => {
    const full = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 5,
      messages: params.messages,
      ...body,
    };
    const res = await signedPost(`/model/${MODEL}/invoke`, JSON.stringify(full));
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toMatch(/^ValidationException:/);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });

  it('counts tokens with the invoke body base64-encoded in CountTokens', async () => {
    const invoke = { anthropic_version: 'bedrock-2023-05-31', max_tokens: 5, messages: params.messages };
    const res = await signedPost(
      `/model/${MODEL}/count-tokens`,
      JSON.stringify({
        input: { invokeModel: { body: Buffer.from(JSON.stringify(invoke)).toString('base64') } },
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ inputTokens: expect.any(Number) });
  });

  it.each([
    { status: 429, errorType: undefined, code: 'ThrottlingException', cls: AnthropicBedrock.RateLimitError },
    {
      status: 429,
      errorType: 'ModelNotReadyException',
      code: 'ModelNotReadyException',
      cls: AnthropicBedrock.RateLimitError,
    },
    {
      status: 503,
      errorType: undefined,
      code: 'ServiceUnavailableException',
      cls: AnthropicBedrock.InternalServerError,
    },
    {
      status: 404,
      errorType: undefined,
      code: 'ResourceNotFoundException',
      cls: AnthropicBedrock.NotFoundError,
    },
  ])('scripts a $status $code the SDK surfaces as an APIError', async ({ status, errorType, code, cls }) => {
    mock.enqueue({ status, ...(errorType ? { errorType } : {}) });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    const e = err as InstanceType<typeof AnthropicBedrock.APIError>;
    expect(e.status).toBe(status);
    expect(e.headers?.get('x-amzn-errortype')?.split(':')[0]).toBe(code);
    expect(e.error).toEqual({ message: expect.any(String) });
  });

  it('sends an exception frame mid-stream, which the SDK raises after the text so far', async () => {
    mock.enqueue({ exceptionAfter: { after: 3, exception: 'throttlingException' } });
    const stream = client.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnthropicBedrock.APIError);
    expect(String((err as Error).message)).toContain('throttlingException');
    expect(deltas.length).toBe(1);
  });

  it('a CRC-corrupted frame makes the SDK fail the stream instead of yielding garbage', async () => {
    mock.enqueue({ corruptAt: 3 });
    const stream = client.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(deltas.join('')).toBe(DEFAULT_ANSWER.slice(0, deltas.join('').length));
    expect(deltas.length).toBe(1);
  });

  it('takes scripts over the HTTP control interface', async () => {
    const res = await fetch(`${mock.url}/__ocg/control/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ status: 429, message: 'Too many requests, slow down.' }),
    });
    expect(res.status).toBe(204);
    const bad = await fetch(`${mock.url}/__ocg/control/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ nope: 1 }),
    });
    expect(bad.status).toBe(400);
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect((err as InstanceType<typeof AnthropicBedrock.APIError>).error).toEqual({
      message: 'Too many requests, slow down.',
    });
    const recorded = (await (await fetch(`${mock.url}/__ocg/control/requests`)).json()) as unknown[];
    expect(recorded).toHaveLength(1);
  });
});
