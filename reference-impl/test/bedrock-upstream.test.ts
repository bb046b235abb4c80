/**
 * The `bedrock` upstream kind against the kit's Bedrock runtime mock (no gateway): the same conversation, streamed
 * and not, comes back exactly as the anthropic kind gets it from the Anthropic mock; the body is transformed for
 * Bedrock and SigV4-signed (the mock verifies the signature); betas move into the body; every Bedrock error maps to
 * its Anthropic status/type with a generic message; exception frames become SSE `error` events; corrupt frames end
 * the stream with an error, never garbage; a client abort aborts the upstream at once; count_tokens and its 501.
 * A streamed answer is read as the router reads it: each chunk of the body through the response's decoder (what the
 * router then does after message_stop is in routing-providers.test.ts).
 */
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import {
  chunkFrame,
  type MockBedrock,
  type MockBedrockScript,
  startMockBedrock,
} from '../../conformance/src/mocks/bedrock/index.ts';
import { parseSse } from '../../conformance/src/util/sse.ts';
import { createLogger, type Logger, silentLogger } from '../src/log/logger.ts';
import {
  createAnthropicUpstream,
  type Upstream,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../src/upstream/anthropic.ts';
import { bedrockErrorCode } from '../src/upstream/bedrock/errors.ts';
import { type BedrockUsage, createEventStreamDecoder } from '../src/upstream/bedrock/eventstream.ts';
import {
  type BedrockUpstreamConfig,
  type BedrockUpstreamResponse,
  betaDropFilter,
  betasFrom,
  createBedrockUpstream,
  toBedrockBody,
} from '../src/upstream/bedrock/index.ts';
import { SseSplitter } from '../src/upstream/sse.ts';

const BEDROCK_MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };
const conversation = {
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Say hello' }],
};

let bedrock: MockBedrock;
let anthropic: MockAnthropic;
let upstream: Upstream;
let reference: Upstream;
const opened: Upstream[] = [];

function make(overrides: Partial<BedrockUpstreamConfig> = {}, logger: Logger = silentLogger): Upstream {
  const u = createBedrockUpstream(
    {
      name: 'bedrock-test',
      kind: 'bedrock',
      region: 'us-east-1',
      baseUrl: bedrock.url,
      auth: { type: 'sigv4', ...bedrock.credentials },
      timeouts: TIMEOUTS,
      ...overrides,
    },
    logger,
  );
  opened.push(u);
  return u;
}

function request(
  body: Record<string, unknown>,
  options: { path?: string; headers?: string[]; signal?: AbortSignal; upstreamModel?: string | null } = {},
): UpstreamRequest {
  return {
    path: options.path ?? '/v1/messages',
    search: '?beta=true',
    rawHeaders: [
      'content-type',
      'application/json',
      'anthropic-version',
      '2023-06-01',
      'authorization',
      'Bearer client-gateway-token',
      'x-api-key',
      'client-gateway-token',
      ...(options.headers ?? []),
    ],
    body: Buffer.from(JSON.stringify(body)),
    signal: options.signal ?? new AbortController().signal,
    awaitsWholeAnswer: body.stream !== true,
    ...(options.upstreamModel === null ? {} : { upstreamModel: options.upstreamModel ?? BEDROCK_MODEL }),
  };
}

async function text(body: Readable): Promise<string> {
  let out = '';
  for await (const chunk of body) out += (chunk as Buffer).toString('utf8');
  return out;
}

/**
 * What the router does with a Bedrock stream: every chunk of the body through the response's decoder, until the
 * decoder says the stream is over. `error`: where the decoding (or the body) broke, after the events before it.
 */
async function decoded(res: UpstreamResponse): Promise<{ sse: string; error?: unknown }> {
  const decoder = res.decoder;
  if (decoder === undefined) throw new Error('a Bedrock stream comes with its decoder');
  let sse = '';
  try {
    for await (const chunk of res.body) {
      const d = decoder.push(chunk as Buffer);
      for (const e of d.events) sse += e.raw.toString('utf8');
      if (d.error !== undefined) return { sse, error: d.error };
      if (d.end) {
        res.body.destroy();
        return { sse };
      }
    }
    decoder.finish();
    return { sse };
  } catch (error) {
    return { sse, error };
  }
}

async function streamed(res: UpstreamResponse): Promise<string> {
  const { sse, error } = await decoded(res);
  if (error !== undefined) throw error;
  return sse;
}

function events(sse: string): Array<{ event: string; data: Record<string, unknown> }> {
  return parseSse(sse).map((e) => ({ event: e.event, data: JSON.parse(e.data) as Record<string, unknown> }));
}

/** Drops what legitimately differs between two answers to the same conversation: ids and the model name. */
function comparable(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v) => (key === 'id' || key === 'model' ? undefined : v));
}

beforeAll(async () => {
  bedrock = await startMockBedrock({ region: 'us-east-1' });
  anthropic = await startMockAnthropic();
  upstream = make();
  reference = createAnthropicUpstream(
    {
      name: 'anthropic-test',
      kind: 'anthropic',
      baseUrl: anthropic.url,
      apiKey: anthropic.apiKey,
      timeouts: TIMEOUTS,
    },
    silentLogger,
  );
});
afterAll(async () => {
  await Promise.all([...opened, reference].map((u) => u.close()));
  await Promise.all([bedrock.close(), anthropic.close()]);
});
beforeEach(() => {
  bedrock.reset();
  anthropic.reset();
});

describe('bedrock upstream: the same conversation as the anthropic kind', () => {
  it('answers a non-streaming message with the Anthropic Message the Anthropic mock gives', async () => {
    const res = (await upstream.send(request(conversation))) as BedrockUpstreamResponse;
    const ref = await reference.send(request(conversation, { upstreamModel: null }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['request-id']).toBe(bedrock.requests[0]?.response?.headers['x-amzn-requestid']);
    const message = JSON.parse(await text(res.body)) as Record<string, unknown>;
    const expected = JSON.parse(await text(ref.body)) as Record<string, unknown>;
    expect(message.id).toMatch(/^msg_bdrk_/);
    expect(message.model).toBe('claude-sonnet-4-5-20250929');
    expect(comparable(message)).toEqual(comparable(expected));
    const usage = expected.usage as { input_tokens: number; output_tokens: number };
    expect(res.usage).toEqual({
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
      source: 'headers',
    });
  });

  it('streams the same Anthropic SSE (minus ping), with cumulative usage relay records and Bedrock metrics', async () => {
    const res = (await upstream.send(request({ ...conversation, stream: true }))) as BedrockUpstreamResponse;
    const ref = await reference.send(request({ ...conversation, stream: true }, { upstreamModel: null }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const sse = await streamed(res);
    const got = events(sse);
    const want = events(await text(ref.body)).filter((e) => e.event !== 'ping');
    expect(comparable(got)).toEqual(comparable(want));
    // Each event is named after its type, and the Bedrock-only metrics do not reach the client.
    for (const e of got) expect(e.event).toBe(e.data.type);
    expect(sse).not.toContain('amazon-bedrock-invocationMetrics');

    const splitter = new SseSplitter();
    splitter.push(Buffer.from(sse));
    const delta = want.find((e) => e.event === 'message_delta')?.data.usage as Record<string, number>;
    expect(splitter.facts).toMatchObject({
      stopped: true,
      inputTokens: delta.input_tokens,
      outputTokens: delta.output_tokens,
    });
    expect(res.usage).toMatchObject({
      inputTokens: delta.input_tokens,
      outputTokens: delta.output_tokens,
      source: 'invocation-metrics',
    });
  });

  it('decodes each event as its frame arrives (nothing waits for the end of the stream)', async () => {
    bedrock.enqueue({ holdAfter: 3 });
    const res = await upstream.send(request({ ...conversation, stream: true }));
    const decoder = res.decoder as NonNullable<UpstreamResponse['decoder']>;
    const it = res.body[Symbol.asyncIterator]();
    const seen: string[] = [];
    while (seen.length < 3)
      seen.push(...decoder.push((await it.next()).value as Buffer).events.map((e) => e.name));
    expect(seen).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
    bedrock.release();
    for (;;) {
      const { done, value } = await it.next();
      if (done) break;
      const d = decoder.push(value as Buffer);
      seen.push(...d.events.map((e) => e.name));
      if (d.end) break;
    }
    expect(seen.at(-1)).toBe('message_stop');
    res.body.destroy();
  });

  it('hands the router each event with its data parsed, so the router does not read the SSE text again', async () => {
    const res = await upstream.send(request({ ...conversation, stream: true }));
    const decoder = res.decoder as NonNullable<UpstreamResponse['decoder']>;
    const all = [];
    for await (const chunk of res.body) {
      const d = decoder.push(chunk as Buffer);
      all.push(...d.events);
      if (d.end) break;
    }
    expect(all.length).toBeGreaterThan(3);
    for (const e of all) {
      expect(e.malformed).toBe(false);
      expect(e.data?.type).toBe(e.name);
      // The bytes the client gets say the same as the parsed data.
      expect(events(e.raw.toString('utf8'))).toEqual([{ event: e.name, data: e.data }]);
    }
  });
});

describe('bedrock upstream: the request Bedrock receives', () => {
  it('posts to /model/{encoded id}/invoke a body without model and stream, with anthropic_version', async () => {
    const body = {
      ...conversation,
      metadata: { user_id: '{"a":1}' },
      tools: [],
      some_future_field: { x: 1 },
    };
    await text((await upstream.send(request(body))).body);
    const seen = bedrock.requests[0];
    expect(seen?.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke');
    const sent = JSON.parse(seen?.body ?? '{}') as Record<string, unknown>;
    const { model: _m, ...rest } = body;
    expect(sent).toEqual({ anthropic_version: 'bedrock-2023-05-31', ...rest });
    // The client's credentials never go upstream; the request is SigV4-signed for bedrock in the region.
    expect(seen?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${bedrock.credentials.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=[^ ]*host`,
      ),
    );
    expect(seen?.headers['x-api-key']).toBeUndefined();
    expect(seen?.headers['anthropic-version']).toBeUndefined();
    expect(seen?.url).not.toContain('beta=true');
  });

  it('uses /invoke-with-response-stream for stream: true, and the body model when no upstream model is given', async () => {
    await text(
      (
        await upstream.send(
          request(
            { ...conversation, model: 'anthropic.claude-x-v1:0', stream: true },
            { upstreamModel: null },
          ),
        )
      ).body,
    );
    expect(bedrock.requests[0]?.url).toBe('/model/anthropic.claude-x-v1%3A0/invoke-with-response-stream');
    expect(JSON.parse(bedrock.requests[0]?.body ?? '{}')).not.toHaveProperty('stream');
  });

  it('moves anthropic-beta header values (one header or several) into anthropic_beta', async () => {
    const headers = [
      'anthropic-beta',
      'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
      'anthropic-beta',
      'effort-2025-11-24',
    ];
    await text((await upstream.send(request(conversation, { headers }))).body);
    const sent = JSON.parse(bedrock.requests[0]?.body ?? '{}') as Record<string, unknown>;
    expect(sent.anthropic_beta).toEqual([
      'interleaved-thinking-2025-05-14',
      'context-1m-2025-08-07',
      'effort-2025-11-24',
    ]);
    expect(bedrock.requests[0]?.headers['anthropic-beta']).toBeUndefined();
  });

  it.each([
    { name: 'no betas', body: {}, betas: [], want: undefined },
    { name: 'header betas', body: {}, betas: ['a', 'b'], want: ['a', 'b'] },
    {
      name: 'body betas kept first, duplicates merged',
      body: { anthropic_beta: ['b', 'c'] },
      betas: ['a', 'b'],
      want: ['b', 'c', 'a'],
    },
  ])('toBedrockBody: $name', ({ body, betas, want }) => {
    const out = toBedrockBody(
      { model: 'm', stream: true, anthropic_version: 'x', messages: [], ...body },
      betas,
    );
    expect(out.anthropic_version).toBe('bedrock-2023-05-31');
    expect(out).not.toHaveProperty('model');
    expect(out).not.toHaveProperty('stream');
    expect(out.anthropic_beta).toEqual(want);
  });

  it.each([
    { name: 'no list drops nothing', drop: [], beta: 'oauth-2025-04-20', want: false },
    { name: 'an exact name', drop: ['oauth-2025-04-20'], beta: 'oauth-2025-04-20', want: true },
    { name: 'an exact name is not a prefix', drop: ['oauth'], beta: 'oauth-2025-04-20', want: false },
    {
      name: 'a prefix pattern',
      drop: ['context-management-*'],
      beta: 'context-management-2025-06-27',
      want: true,
    },
    {
      name: 'a prefix pattern, other beta',
      drop: ['context-management-*'],
      beta: 'context-1m-2025-08-07',
      want: false,
    },
    { name: '* alone', drop: ['*'], beta: 'anything', want: true },
  ])('betaDropFilter: $name', ({ drop, beta, want }) => {
    expect(betaDropFilter(drop)(beta)).toBe(want);
  });

  it('toBedrockBody leaves the dropped betas out, from the header and the body alike, and names them', () => {
    const dropped: string[][] = [];
    const out = toBedrockBody(
      { model: 'm', messages: [], anthropic_beta: ['context-management-2025-06-27', 'b'] },
      ['a', 'oauth-2025-04-20'],
      betaDropFilter(['oauth-2025-04-20', 'context-management-*']),
      (d) => dropped.push(d),
    );
    expect(out.anthropic_beta).toEqual(['b', 'a']);
    expect(dropped).toEqual([['context-management-2025-06-27', 'oauth-2025-04-20']]);
    const none = toBedrockBody({ messages: [] }, ['oauth-2025-04-20'], betaDropFilter(['oauth-*']));
    expect(none).not.toHaveProperty('anthropic_beta');
  });

  it('betasFrom splits, trims and de-duplicates', () => {
    expect(betasFrom(['Anthropic-Beta', ' a ,b,,', 'x', 'y', 'anthropic-beta', 'a,c'])).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});

describe('bedrock upstream: credentials', () => {
  it('signs with temporary credentials (session token)', async () => {
    const temp = await startMockBedrock({
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'ASIATEMPORARY0000001',
        secretAccessKey: 'temp-secret',
        sessionToken: 'FwoGZXIvYXdzEXAMPLE',
      },
    });
    try {
      const u = make({
        region: 'eu-west-1',
        baseUrl: temp.url,
        auth: { type: 'sigv4', ...temp.credentials },
      });
      const res = await u.send(request(conversation));
      expect(res.status).toBe(200);
      expect(temp.requests[0]?.headers['x-amz-security-token']).toBe('FwoGZXIvYXdzEXAMPLE');
    } finally {
      await temp.close();
    }
  });

  it('resolves credentials from the environment with sigv4-default', async () => {
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = bedrock.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = bedrock.credentials.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    try {
      const res = await make({ auth: { type: 'sigv4-default' } }).send(request(conversation));
      expect(res.status).toBe(200);
    } finally {
      process.env = saved;
    }
  });

  it('answers 502 api_error (ERR_UPSTREAM_AUTH) when the default chain finds no credentials', async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    process.env.AWS_CONFIG_FILE = '/nonexistent/ocg-aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/ocg-aws-credentials';
    try {
      const err = await make({ auth: { type: 'sigv4-default' } })
        .send(request(conversation))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_UPSTREAM_AUTH', status: 502, type: 'api_error' });
      expect(bedrock.requests).toHaveLength(0);
    } finally {
      process.env = saved;
    }
  });

  it('sends a Bedrock API key as Authorization: Bearer without signing', async () => {
    const res = await make({ auth: { type: 'api-key', apiKey: bedrock.apiKey } }).send(request(conversation));
    expect(res.status).toBe(200);
    expect(bedrock.requests[0]?.headers.authorization).toBe(`Bearer ${bedrock.apiKey}`);
    expect(bedrock.requests[0]?.headers['x-amz-date']).toBeUndefined();
  });

  it.each([
    {
      name: 'a wrong secret key',
      auth: () => ({
        type: 'sigv4' as const,
        accessKeyId: bedrock.credentials.accessKeyId,
        secretAccessKey: 'wrong',
      }),
    },
    {
      name: 'an unknown access key',
      auth: () => ({ type: 'sigv4' as const, accessKeyId: 'AKIAWRONG', secretAccessKey: 'x' }),
    },
    { name: 'a wrong API key', auth: () => ({ type: 'api-key' as const, apiKey: 'ABSKwrong' }) },
  ])('answers 502 api_error (never 401/403) when Bedrock refuses $name', async ({ auth }) => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', write: (l) => void lines.push(l) });
    const res = (await make({ auth: auth() }, logger).send(request(conversation))) as BedrockUpstreamResponse;
    expect(res.status).toBe(502);
    expect(JSON.parse(await text(res.body))).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'The upstream failed to process the request.' },
    });
    expect(res.bedrockError?.credential).toBe(true);
    expect(res.headers['x-should-retry']).toBe('false');
    expect(lines.join('')).toContain('bedrock refused the gateway credential');
    for (const line of lines) expect(line).not.toContain('wrong"');
  });
});

describe('bedrock upstream: errors', () => {
  const ARN = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.x';
  it.each([
    { script: { status: 429 }, code: 'ThrottlingException', status: 429, type: 'rate_limit_error' },
    {
      script: { status: 400, errorType: 'ServiceQuotaExceededException' },
      code: 'ServiceQuotaExceededException',
      status: 429,
      type: 'rate_limit_error',
    },
    { script: { status: 503 }, code: 'ServiceUnavailableException', status: 529, type: 'overloaded_error' },
    {
      script: { status: 429, errorType: 'ModelNotReadyException' },
      code: 'ModelNotReadyException',
      status: 503,
      type: 'api_error',
    },
    { script: { status: 500 }, code: 'InternalServerException', status: 500, type: 'api_error' },
    { script: { status: 424 }, code: 'ModelErrorException', status: 500, type: 'api_error' },
    { script: { status: 400 }, code: 'ValidationException', status: 400, type: 'invalid_request_error' },
    { script: { status: 403 }, code: 'AccessDeniedException', status: 502, type: 'api_error' },
    {
      script: { status: 403, errorType: 'UnrecognizedClientException' },
      code: 'UnrecognizedClientException',
      status: 502,
      type: 'api_error',
    },
    { script: { status: 408 }, code: 'ModelTimeoutException', status: 504, type: 'timeout_error' },
    { script: { status: 404 }, code: 'ResourceNotFoundException', status: 404, type: 'not_found_error' },
    {
      script: { status: 502, errorType: 'SomethingNewException' },
      code: 'SomethingNewException',
      status: 502,
      type: 'api_error',
    },
  ] as Array<{ script: MockBedrockScript; code: string; status: number; type: string }>)(
    'Bedrock $code ($script.status) → $status $type, generic message, detail only in the log',
    async ({ script, code, status, type }) => {
      const lines: string[] = [];
      const logger = createLogger({ level: 'warn', write: (l) => void lines.push(l) });
      const u = make({}, logger);
      for (const stream of [false, true]) {
        lines.length = 0;
        bedrock.enqueue({ ...script, message: `denied for ${ARN}`, headers: { 'retry-after': '3' } });
        const res = (await u.send(request({ ...conversation, stream }))) as BedrockUpstreamResponse;
        expect(res.status).toBe(status);
        expect(res.headers['content-type']).toBe('application/json');
        expect(res.headers['retry-after']).toBe('3');
        const credential = ['AccessDeniedException', 'UnrecognizedClientException'].includes(code);
        expect(res.headers['x-should-retry']).toBe(credential ? 'false' : undefined);
        const body = JSON.parse(await text(res.body)) as {
          type: string;
          error: { type: string; message: string };
        };
        expect(body.type).toBe('error');
        expect(body.error.type).toBe(type);
        expect(body.error.message).not.toContain('123456789012');
        expect(res.bedrockError?.code).toBe(code);
        expect(lines.join('')).toContain(ARN);
        expect(lines.join('')).toContain(code);
      }
    },
  );

  it.each([
    {
      header: 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/',
      body: undefined,
      want: 'ThrottlingException',
    },
    { header: undefined, body: { code: 'ValidationException' }, want: 'ValidationException' },
    {
      header: undefined,
      body: { __type: 'com.amazon.coral.service#AccessDeniedException' },
      want: 'AccessDeniedException',
    },
    { header: '', body: { __type: 'ModelTimeoutException:http://x' }, want: 'ModelTimeoutException' },
    { header: undefined, body: {}, want: undefined },
  ])('reads the error code from header $header / body $body', ({ header, body, want }) => {
    expect(bedrockErrorCode(header, body)).toBe(want);
  });

  it('answers 502 when Bedrock cannot be reached', async () => {
    bedrock.enqueue({ cutAfter: 0 });
    const err = await upstream.send(request(conversation)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_UNREACHABLE', status: 502, type: 'api_error' });
  });
});

describe('bedrock upstream: stream faults', () => {
  it.each([
    { name: 'one byte at a time', split: (b: Buffer) => [...b].map((x) => Buffer.from([x])) },
    { name: 'all frames in one chunk', split: (b: Buffer) => [b] },
    {
      name: 'chunks cutting frames anywhere',
      split: (b: Buffer) => [b.subarray(0, 7), b.subarray(7, 150), b.subarray(150)],
    },
  ])('decodes frames however the bytes are chunked ($name)', async ({ split }) => {
    const frames = Buffer.concat([
      chunkFrame({
        type: 'message_start',
        message: { id: 'm', usage: { input_tokens: 5, output_tokens: 1 } },
      }),
      chunkFrame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hé\n"x"' } }),
      chunkFrame({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': { inputTokenCount: 5, outputTokenCount: 2 },
      }),
    ]);
    const usage: BedrockUsage = {};
    const decoder = createEventStreamDecoder(silentLogger, usage);
    let out = '';
    for (const chunk of split(frames))
      for (const e of decoder.push(chunk).events) out += e.raw.toString('utf8');
    expect(events(out).map((e) => e.data)).toEqual([
      { type: 'message_start', message: { id: 'm', usage: { input_tokens: 5, output_tokens: 1 } } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hé\n"x"' } },
      { type: 'message_stop' },
    ]);
    expect(usage).toMatchObject({ inputTokens: 5, outputTokens: 2, source: 'invocation-metrics' });
  });

  it('refuses a frame with an impossible length prelude', async () => {
    const bad = Buffer.alloc(20);
    bad.writeUInt32BE(0xffffffff, 0);
    const d = createEventStreamDecoder(silentLogger, {}).push(bad);
    expect(d).toMatchObject({ events: [], end: true, error: { code: 'ERR_UPSTREAM_PROTOCOL' } });
  });

  it.each([
    { exception: 'throttlingException', type: 'rate_limit_error' },
    { exception: 'serviceUnavailableException', type: 'overloaded_error' },
    { exception: 'modelStreamErrorException', type: 'api_error' },
    { exception: 'internalServerException', type: 'api_error' },
    { exception: 'validationException', type: 'invalid_request_error' },
    { exception: 'modelTimeoutException', type: 'timeout_error' },
  ])(
    'an exception frame ($exception) mid-stream becomes an SSE error event ($type), then the end',
    async ({ exception, type }) => {
      bedrock.enqueue({ exceptionAfter: { after: 3, exception, message: 'account 123456789012 throttled' } });
      const res = await upstream.send(request({ ...conversation, stream: true }));
      const got = events(await streamed(res));
      expect(got.map((e) => e.event)).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'error',
      ]);
      expect(got[3]?.data).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
      expect(JSON.stringify(got[3])).not.toContain('123456789012');
    },
  );

  it('an unmodeled error frame becomes an api_error event', async () => {
    bedrock.enqueue({ frames: [{ errorCode: 'InternalFailure', message: 'boom' }] });
    const got = events(await streamed(await upstream.send(request({ ...conversation, stream: true }))));
    expect(got).toEqual([
      { event: 'error', data: { type: 'error', error: { type: 'api_error', message: expect.any(String) } } },
    ]);
  });

  it('a CRC-corrupted frame fails the stream after the good events, never forwarding garbage', async () => {
    bedrock.enqueue({ corruptAt: 3 });
    const res = await upstream.send(request({ ...conversation, stream: true }));
    const { sse: out, error: err } = await decoded(res);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
    expect(out.endsWith('\n\n')).toBe(true);
    expect(events(out).map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
    ]);
  });

  it('drops a well-framed chunk that is not an Anthropic event and goes on', async () => {
    const ev = (type: string, extra: Record<string, unknown> = {}) => ({
      event: type,
      data: { type, ...extra },
    });
    bedrock.enqueue({
      frames: [
        ev('message_start', { message: { id: 'msg_bdrk_1', usage: { input_tokens: 3, output_tokens: 1 } } }),
        { rawPayload: 'not json' },
        { rawPayload: JSON.stringify({ bytes: Buffer.from('{"no":"type"}').toString('base64') }) },
        ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }),
        ev('message_stop'),
      ],
    });
    const got = events(await streamed(await upstream.send(request({ ...conversation, stream: true }))));
    expect(got.map((e) => e.event)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(got[1]?.data.usage).toEqual({ output_tokens: 2, input_tokens: 3 });
  });

  it('a stall past the idle limit fails the body with the body-timeout code relay knows', async () => {
    bedrock.enqueue({ holdAfter: 2 });
    const res = await make({ timeouts: { ...TIMEOUTS, idleMs: 300 } }).send(
      request({ ...conversation, stream: true }),
    );
    const { error } = await decoded(res);
    expect(error).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
  });

  it('a client abort mid-stream aborts the Bedrock request promptly', async () => {
    bedrock.enqueue({ holdAfter: 2 });
    const controller = new AbortController();
    const res = await upstream.send(
      request({ ...conversation, stream: true }, { signal: controller.signal }),
    );
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    const started = Date.now();
    controller.abort();
    await it.next().catch(() => undefined);
    const seen = await bedrock.waitForRequest();
    expect(await seen.outcome).toBe('client-closed');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('destroying the body (the router, when the client is gone) aborts the Bedrock request', async () => {
    bedrock.enqueue({ holdAfter: 2 });
    const res = await upstream.send(request({ ...conversation, stream: true }));
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    res.body.destroy();
    const seen = await bedrock.waitForRequest();
    // At once, not when the idle limit (5 s here) would have ended a read that is waiting on the held stream.
    const late = new Promise((resolve) => setTimeout(() => resolve('still open after 2 s'), 2000).unref());
    expect(await Promise.race([seen.outcome, late])).toBe('client-closed');
  });
});

describe('bedrock upstream: count_tokens', () => {
  const count = { model: 'claude-sonnet-4-5', system: 'You are terse.', messages: conversation.messages };

  it("uses Bedrock CountTokens when configured, giving the Anthropic mock's count", async () => {
    const u = make({ countTokens: true });
    const res = (await u.send(
      request(count, { path: '/v1/messages/count_tokens' }),
    )) as BedrockUpstreamResponse;
    const ref = await reference.send(
      request(count, { path: '/v1/messages/count_tokens', upstreamModel: null }),
    );
    expect(res.status).toBe(200);
    const got = JSON.parse(await text(res.body));
    expect(got).toEqual(JSON.parse(await text(ref.body)));
    expect(res.usage.inputTokens).toBe(got.input_tokens);
    const seen = bedrock.requests[0];
    expect(seen?.url).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens');
    const inner = JSON.parse(
      Buffer.from(
        (JSON.parse(seen?.body ?? '{}') as { input: { invokeModel: { body: string } } }).input.invokeModel
          .body,
        'base64',
      ).toString('utf8'),
    ) as Record<string, unknown>;
    expect(inner).toMatchObject({
      anthropic_version: 'bedrock-2023-05-31',
      system: 'You are terse.',
      max_tokens: 1,
    });
    expect(inner).not.toHaveProperty('model');
  });

  it('answers 501 not_supported without calling Bedrock when not configured', async () => {
    const res = await upstream.send(request(count, { path: '/v1/messages/count_tokens' }));
    expect(res.status).toBe(501);
    expect(JSON.parse(await text(res.body))).toMatchObject({
      type: 'error',
      error: { type: 'not_supported' },
    });
    expect(bedrock.requests).toHaveLength(0);
  });

  it('maps a CountTokens error like any other', async () => {
    bedrock.enqueue({ status: 429 });
    const res = await make({ countTokens: true }).send(request(count, { path: '/v1/messages/count_tokens' }));
    expect(res.status).toBe(429);
    expect(JSON.parse(await text(res.body))).toMatchObject({ error: { type: 'rate_limit_error' } });
  });
});
