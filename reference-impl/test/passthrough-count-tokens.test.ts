/**
 * Token counts on the pass-through surfaces (PASSTHROUGH-8, PASSTHROUGH-9), Bedrock's token-count headers on
 * non-streaming InvokeModel answers (PASSTHROUGH-10) and a bedrock upstream's `betas.drop`, through the real gateway
 * with the kit's Bedrock, Vertex and Anthropic mocks as its upstreams:
 *
 * - Bedrock CountTokens driven by the AWS SDK's own `CountTokensCommand` (`@aws-sdk/client-bedrock-runtime`, the
 *   client Claude Code uses for it in Bedrock mode; the Anthropic Bedrock SDK has no count), with the gateway
 *   token as a Bedrock API key;
 * - the Vertex count driven by `@anthropic-ai/vertex-sdk` `messages.countTokens`;
 * - bad input answered in the provider's error shape before any upstream is contacted.
 */
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';
import { BedrockRuntimeClient, CountTokensCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MockAnthropic, startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { estimateTokens } from '../../conformance/src/mocks/anthropic/responses.ts';
import { type MockBedrock, startMockBedrock } from '../../conformance/src/mocks/bedrock/index.ts';
import { type MockVertex, startMockVertex } from '../../conformance/src/mocks/vertex/index.ts';
import { parseConfig } from '../src/config/load.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { type CapturedLogger, captureLogger, ENV, OTHER_TOKEN, send, TOKEN } from './helpers.ts';
import { recordFor, vertexThrough } from './passthrough-clients.ts';

const VERTEX_TOKEN = 'ya29.count-tokens-test-0123456789';
/** Catalogue model → its one target: Bedrock (with CountTokens), Bedrock (without), Vertex, the Claude API. */
const SONNET_ON_BEDROCK = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const OPUS41_ON_BEDROCK = 'anthropic.claude-opus-4-1-20250805-v1:0';
const HAIKU_ON_VERTEX = 'claude-haiku-4-5@20251001';
const DROPPED = ['oauth-2025-04-20', 'context-management-*'];

let bedrock: MockBedrock;
let vertexMock: MockVertex;
let anthropic: MockAnthropic;
let gateway: Gateway;
let log: CapturedLogger;

function configYaml(): string {
  return `
server: { host: 127.0.0.1, port: 0 }
database: { url: "pglite:memory:" }
auth:
  staticTokens:
    - token: \${env:OCG_DEV_TOKEN}
      subject: dev-user
      email: dev@example.com
    - token: \${env:OCG_OTHER_TOKEN}
      subject: other-user
upstreams:
  - name: bedrock
    kind: bedrock
    baseUrl: ${bedrock.url}
    region: us-east-1
    countTokens: true
    betas: { drop: [${DROPPED.join(', ')}] }
    auth:
      type: api-key
      apiKey: \${env:BEDROCK_API_KEY}
  - name: bedrock-no-count
    kind: bedrock
    baseUrl: ${bedrock.url}
    region: us-east-1
    auth:
      type: api-key
      apiKey: \${env:BEDROCK_API_KEY}
  - name: vertex
    kind: vertex
    projectId: ocg-test
    region: us-east5
    baseUrl: ${vertexMock.url}/v1
    auth:
      type: access-token
      token: \${env:VERTEX_TOKEN}
  - name: claude
    kind: anthropic
    baseUrl: ${anthropic.url}
    apiKey: \${env:ANTHROPIC_API_KEY}
models:
  - id: house-sonnet
    displayName: Sonnet on our Bedrock account
    targets: [{ upstream: bedrock, model: "${SONNET_ON_BEDROCK}" }]
  - id: claude-opus-4-1
    displayName: Opus 4.1 on Bedrock without CountTokens
    targets: [{ upstream: bedrock-no-count, model: "${OPUS41_ON_BEDROCK}" }]
  - id: claude-haiku-4-5-20251001
    displayName: Haiku 4.5 on Vertex
    aliases: [claude-haiku-4-5]
    targets: [{ upstream: vertex, model: "${HAIKU_ON_VERTEX}" }]
  - id: claude-opus-4-5-20251101
    displayName: Opus 4.5 on the Claude API
    targets: [{ upstream: claude }]
policies:
  - { name: limited, match: { users: [other-user] }, models: [house-sonnet] }
  - { name: everyone, match: { everyone: true }, models: ['*'] }
routing: { maxAttemptsPerTarget: 1 }
log: { level: debug }
`;
}

beforeAll(async () => {
  [bedrock, vertexMock, anthropic] = await Promise.all([
    startMockBedrock(),
    startMockVertex({ accessToken: VERTEX_TOKEN }),
    startMockAnthropic(),
  ]);
  log = captureLogger([TOKEN, OTHER_TOKEN, bedrock.apiKey, anthropic.apiKey, VERTEX_TOKEN]);
  const env = {
    ...ENV,
    BEDROCK_API_KEY: bedrock.apiKey,
    VERTEX_TOKEN,
    ANTHROPIC_API_KEY: anthropic.apiKey,
  };
  gateway = await startGateway(parseConfig(configYaml(), env), { logger: log.logger });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([bedrock?.close(), vertexMock?.close(), anthropic?.close()]);
});

beforeEach(() => {
  bedrock.reset();
  vertexMock.reset();
  anthropic.reset();
});

const SYSTEM = 'You are terse.';
const MESSAGES = [{ role: 'user' as const, content: 'How many tokens is this?' }];
/** What every mock counts for SYSTEM + MESSAGES (they share one estimate). */
const COUNT = estimateTokens([SYSTEM, MESSAGES, []]);

/** An InvokeModel body as a Bedrock client writes it (what Claude Code puts in CountTokens). */
const invokeBody = (extra: Record<string, unknown> = {}) => ({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 1,
  system: SYSTEM,
  messages: MESSAGES,
  ...extra,
});

const base64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

function awsClient(token = TOKEN): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: gateway.url,
    maxAttempts: 1,
    // The client's default handler speaks HTTP/2 (as Bedrock does); the gateway speaks HTTP/1.1, and Claude Code
    // passes this handler too.
    requestHandler: new NodeHttpHandler(),
    // As Claude Code configures it for AWS_BEARER_TOKEN_BEDROCK: the gateway token as a Bedrock API key.
    token: { token },
    authSchemePreference: ['httpBearerAuth'],
  });
}

const upstreamCalls = () => bedrock.requests.length + vertexMock.requests.length + anthropic.requests.length;

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return send(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const countPath = (modelId: string) => `/model/${encodeURIComponent(modelId)}/count-tokens`;
const VERTEX_COUNT_PATH =
  '/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict';

/** What an AWS SDK call threw. */
async function awsFailure(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { $metadata: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

describe('Bedrock CountTokens on the gateway (PASSTHROUGH-8)', () => {
  it("answers the AWS SDK's CountTokensCommand with the count of the Bedrock upstream's CountTokens", async () => {
    const out = await awsClient().send(
      new CountTokensCommand({
        modelId: SONNET_ON_BEDROCK,
        input: { invokeModel: { body: Buffer.from(JSON.stringify(invokeBody({ max_tokens: 4096 }))) } },
      }),
    );
    expect(out.inputTokens).toBe(COUNT);
    // The same number /v1/messages/count_tokens gives for the same conversation.
    const anthropicShaped = await post('/v1/messages/count_tokens', {
      model: 'house-sonnet',
      system: SYSTEM,
      messages: MESSAGES,
    });
    expect(JSON.parse(anthropicShaped.body)).toEqual({ input_tokens: COUNT });

    const counted = bedrock.requests.filter((r) => r.url.endsWith('/count-tokens'));
    expect(counted).toHaveLength(2);
    expect(decodeURIComponent(counted[0]?.url ?? '')).toBe(`/model/${SONNET_ON_BEDROCK}/count-tokens`);
    const sent = JSON.parse(counted[0]?.body ?? '{}') as { input: { invokeModel: { body: string } } };
    expect(JSON.parse(Buffer.from(sent.input.invokeModel.body, 'base64').toString('utf8'))).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      system: SYSTEM,
      messages: MESSAGES,
      max_tokens: 1,
    });
    const row = await recordFor(gateway, out.$metadata.requestId as string);
    expect(row).toMatchObject({
      subject: 'dev-user',
      model: 'house-sonnet',
      stream: false,
      status: 200,
      input_tokens: COUNT,
      upstream: 'bedrock',
      upstream_model: SONNET_ON_BEDROCK,
    });
  });

  it('counts through a Claude API upstream: a count_tokens body without the generation members', async () => {
    const tools = [{ name: 'lookup', description: 'Looks up', input_schema: { type: 'object' } }];
    const r = await post(
      countPath('anthropic.claude-opus-4-5-20251101-v1:0'),
      {
        input: {
          invokeModel: {
            body: base64(
              invokeBody({
                tools,
                temperature: 0.2,
                stop_sequences: ['\n\nHuman:'],
                metadata: { user_id: 'u1' },
                anthropic_beta: ['token-efficient-tools-2025-02-19'],
              }),
            ),
          },
        },
      },
      { 'anthropic-beta': 'oauth-2025-04-20' },
    );
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ inputTokens: estimateTokens([SYSTEM, MESSAGES, tools]) });
    expect(r.headers['x-amzn-requestid']).toBe(r.headers['request-id']);
    const upstream = anthropic.requests.at(-1);
    expect(upstream?.url).toBe('/v1/messages/count_tokens');
    expect(JSON.parse(upstream?.body ?? '{}')).toEqual({
      model: 'claude-opus-4-5-20251101',
      system: SYSTEM,
      messages: MESSAGES,
      tools,
    });
    // The betas reach the Claude API (which takes any) in its header; drop lists are per bedrock upstream.
    expect(upstream?.headers['anthropic-beta']).toBe('oauth-2025-04-20,token-efficient-tools-2025-02-19');
    expect(await recordFor(gateway, r.headers['request-id'] as string)).toMatchObject({
      model: 'claude-opus-4-5-20251101',
      status: 200,
      input_tokens: estimateTokens([SYSTEM, MESSAGES, tools]),
    });
  });

  it('answers a model whose Bedrock upstream has no CountTokens with a ValidationException the SDK raises', async () => {
    const err = await awsFailure(
      awsClient().send(
        new CountTokensCommand({
          modelId: OPUS41_ON_BEDROCK,
          input: { invokeModel: { body: Buffer.from(JSON.stringify(invokeBody())) } },
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    // Never sent: that upstream is not configured for CountTokens.
    expect(bedrock.requests).toHaveLength(0);
  });

  it.each([
    ['no input', {}, /input/],
    ['a Converse input', { input: { converse: { messages: [] } } }, /input\.converse is not supported/],
    ['no invokeModel body', { input: { invokeModel: {} } }, /body/],
    [
      'a body that is not base64',
      { input: { invokeModel: { body: 'not base64!' } } },
      /base64 of a JSON object/,
    ],
    [
      'the base64 of a JSON array',
      { input: { invokeModel: { body: base64('[1]') } } },
      /base64 of a JSON object/,
    ],
    ['the base64 of text', { input: { invokeModel: { body: base64('hello') } } }, /base64 of a JSON object/],
    [
      'a decoded body without anthropic_version',
      { input: { invokeModel: { body: base64({ messages: MESSAGES }) } } },
      /^anthropic_version is required/,
    ],
    [
      'a decoded body without messages',
      { input: { invokeModel: { body: base64({ anthropic_version: 'bedrock-2023-05-31' }) } } },
      /^messages is required/,
    ],
  ])('refuses %s with 400 ValidationException, before any upstream', async (_name, body, message) => {
    const r = await post(countPath(SONNET_ON_BEDROCK), body);
    expect(r.status).toBe(400);
    expect(r.headers['x-amzn-errortype']).toMatch(/^ValidationException:/);
    expect((JSON.parse(r.body) as { message: string }).message).toMatch(message);
    expect(upstreamCalls()).toBe(0);
  });

  it('refuses a model the policy denies, an unknown model and a missing bearer in Bedrock shape', async () => {
    const input = { invokeModel: { body: Buffer.from(JSON.stringify(invokeBody())) } };
    const denied = await awsFailure(
      awsClient(OTHER_TOKEN).send(
        new CountTokensCommand({ modelId: 'anthropic.claude-opus-4-1-v1:0', input }),
      ),
    );
    expect(denied.name).toBe('ValidationException');
    expect(denied.message).toContain("not allowed by policy 'limited'");
    const unknown = await awsFailure(
      awsClient().send(new CountTokensCommand({ modelId: 'anthropic.claude-nonesuch-9-v1:0', input })),
    );
    expect(unknown.name).toBe('ValidationException');
    expect(unknown.message).toContain("'claude-nonesuch-9'");
    const anonymous = await send(`${gateway.url}${countPath(SONNET_ON_BEDROCK)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { invokeModel: { body: base64(invokeBody()) } } }),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['x-amzn-errortype']).toMatch(/^UnrecognizedClientException:/);
    expect(upstreamCalls()).toBe(0);
  });
});

describe('Vertex count-tokens:rawPredict on the gateway (PASSTHROUGH-9)', () => {
  it("answers the Vertex SDK's countTokens with the Vertex upstream's count, sending the target's model id", async () => {
    const { data, response } = await vertexThrough(gateway.url, TOKEN)
      .messages.countTokens({ model: 'claude-haiku-4-5@20251001', system: SYSTEM, messages: MESSAGES })
      .withResponse();
    expect(data).toEqual({ input_tokens: COUNT });
    const upstream = vertexMock.requests.at(-1);
    expect(upstream?.url).toBe(
      '/v1/projects/ocg-test/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict',
    );
    expect(JSON.parse(upstream?.body ?? '{}')).toMatchObject({
      model: HAIKU_ON_VERTEX,
      anthropic_version: 'vertex-2023-10-16',
      messages: MESSAGES,
    });
    expect(await recordFor(gateway, response.headers.get('request-id') as string)).toMatchObject({
      subject: 'dev-user',
      model: 'claude-haiku-4-5-20251001',
      status: 200,
      input_tokens: COUNT,
      upstream: 'vertex',
    });
  });

  it('maps the Vertex id in the body to the catalogue and counts through any upstream kind', async () => {
    const { data } = await vertexThrough(gateway.url, TOKEN)
      .messages.countTokens({ model: 'claude-opus-4-5@20251101', messages: MESSAGES })
      .withResponse();
    expect(data).toEqual({ input_tokens: estimateTokens(['', MESSAGES, []]) });
    const upstream = anthropic.requests.at(-1);
    expect(upstream?.url).toBe('/v1/messages/count_tokens');
    expect(JSON.parse(upstream?.body ?? '{}')).toEqual({
      model: 'claude-opus-4-5-20251101',
      messages: MESSAGES,
    });
  });

  it('refuses a missing model, a denied one and a missing bearer in the Google error envelope', async () => {
    const noModel = await post(VERTEX_COUNT_PATH, {
      anthropic_version: 'vertex-2023-10-16',
      messages: MESSAGES,
    });
    expect(noModel.status).toBe(400);
    expect(JSON.parse(noModel.body)).toEqual({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model is required/) },
    });
    const noVersion = await post(VERTEX_COUNT_PATH, { model: HAIKU_ON_VERTEX, messages: MESSAGES });
    expect(JSON.parse(noVersion.body)).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', message: 'anthropic_version is required (a string).' },
    });
    const denied = await vertexThrough(gateway.url, OTHER_TOKEN)
      .messages.countTokens({ model: HAIKU_ON_VERTEX, messages: MESSAGES })
      .catch((e: unknown) => e as { status: number; error: unknown });
    expect(denied).toMatchObject({
      status: 400,
      error: {
        error: {
          code: 400,
          status: 'INVALID_ARGUMENT',
          message: expect.stringContaining("policy 'limited'"),
        },
      },
    });
    const anonymous = await vertexThrough(gateway.url, null)
      .messages.countTokens({ model: HAIKU_ON_VERTEX, messages: MESSAGES })
      .catch((e: unknown) => e as { status: number; error: unknown });
    expect(anonymous).toMatchObject({
      status: 401,
      error: { error: { code: 401, status: 'UNAUTHENTICATED' } },
    });
    expect(upstreamCalls()).toBe(0);
  });
});

describe("Bedrock's token-count headers on InvokeModel answers (PASSTHROUGH-10)", () => {
  const invoke = (modelId: string) =>
    post(`/model/${encodeURIComponent(modelId)}/invoke`, invokeBody({ max_tokens: 64 }));

  it.each([
    ['bedrock', SONNET_ON_BEDROCK],
    ['vertex', 'anthropic.claude-haiku-4-5-20251001-v1:0'],
    ['anthropic', 'anthropic.claude-opus-4-5-20251101-v1:0'],
  ])('carry the answer usage whichever upstream kind served it (%s)', async (kind, modelId) => {
    const r = await invoke(modelId);
    expect(r.status).toBe(200);
    const usage = (JSON.parse(r.body) as { usage: Record<string, number> }).usage;
    expect(usage.input_tokens).toBe(COUNT);
    expect(r.headers['x-amzn-bedrock-input-token-count']).toBe(String(usage.input_tokens));
    expect(r.headers['x-amzn-bedrock-output-token-count']).toBe(String(usage.output_tokens));
    expect(r.headers['x-amzn-bedrock-invocation-latency']).toMatch(/^\d+$/);
    expect(r.headers['x-amzn-requestid']).toBe(r.headers['request-id']);
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    if (kind === 'bedrock') {
      // The same counts Bedrock itself put on its answer.
      const own = bedrock.requests.at(-1)?.response?.headers ?? {};
      expect(r.headers['x-amzn-bedrock-input-token-count']).toBe(own['x-amzn-bedrock-input-token-count']);
      expect(r.headers['x-amzn-bedrock-output-token-count']).toBe(own['x-amzn-bedrock-output-token-count']);
    }
    expect(await recordFor(gateway, r.headers['request-id'] as string)).toMatchObject({
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      upstream: kind === 'anthropic' ? 'claude' : kind,
    });
  });

  it('carry the cache counts when the usage has them, and omit them when it does not', async () => {
    const message = (usage: Record<string, number>) => ({
      id: 'msg_cache',
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-4-5-20251101',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
    anthropic.enqueue(
      {
        body: message({
          input_tokens: 3,
          output_tokens: 5,
          cache_read_input_tokens: 1200,
          cache_creation_input_tokens: 80,
        }),
      },
      { body: message({ input_tokens: 7, output_tokens: 2 }) },
    );
    const cached = await invoke('anthropic.claude-opus-4-5-20251101-v1:0');
    expect(cached.headers).toMatchObject({
      'x-amzn-bedrock-input-token-count': '3',
      'x-amzn-bedrock-output-token-count': '5',
      'x-amzn-bedrock-cache-read-input-token-count': '1200',
      'x-amzn-bedrock-cache-write-input-token-count': '80',
    });
    const plain = await invoke('anthropic.claude-opus-4-5-20251101-v1:0');
    expect(plain.headers['x-amzn-bedrock-input-token-count']).toBe('7');
    expect(plain.headers).not.toHaveProperty('x-amzn-bedrock-cache-read-input-token-count');
    expect(plain.headers).not.toHaveProperty('x-amzn-bedrock-cache-write-input-token-count');
  });

  it('leave the Message the Bedrock SDK reads as it was', async () => {
    const client = new AnthropicBedrock({
      baseURL: gateway.url,
      awsRegion: 'us-east-1',
      apiKey: TOKEN,
      maxRetries: 0,
    });
    const { data, response } = await client.messages
      .create({ model: SONNET_ON_BEDROCK, max_tokens: 64, system: SYSTEM, messages: MESSAGES })
      .withResponse();
    expect(data.usage.input_tokens).toBe(COUNT);
    expect(response.headers.get('x-amzn-bedrock-input-token-count')).toBe(String(COUNT));
  });
});

describe('betas.drop on a bedrock upstream', () => {
  const dropLines = () => log.records().filter((r) => r.msg === 'betas dropped for bedrock');

  it('leaves the listed betas (names and prefixes) out of what Bedrock receives, and says so at debug', async () => {
    const before = dropLines().length;
    const r = await post(
      `/model/${encodeURIComponent(SONNET_ON_BEDROCK)}/invoke`,
      invokeBody({
        max_tokens: 16,
        anthropic_beta: ['context-management-2025-06-27', 'interleaved-thinking-2025-05-14'],
      }),
      { 'anthropic-beta': 'claude-code-20250219,oauth-2025-04-20' },
    );
    expect(r.status).toBe(200);
    const sent = JSON.parse(bedrock.requests.at(-1)?.body ?? '{}') as { anthropic_beta?: string[] };
    expect(sent.anthropic_beta).toEqual(['claude-code-20250219', 'interleaved-thinking-2025-05-14']);
    const lines = dropLines().slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'debug',
      upstream: 'bedrock',
      dropped: ['oauth-2025-04-20', 'context-management-2025-06-27'],
    });
  });

  it('drops them from /v1/messages and from CountTokens too, and sends no anthropic_beta when none is left', async () => {
    const r = await post(
      '/v1/messages',
      { model: 'house-sonnet', max_tokens: 16, messages: MESSAGES },
      { 'anthropic-beta': 'oauth-2025-04-20', 'anthropic-version': '2023-06-01' },
    );
    expect(r.status).toBe(200);
    expect(JSON.parse(bedrock.requests.at(-1)?.body ?? '{}')).not.toHaveProperty('anthropic_beta');
    const count = await post(countPath(SONNET_ON_BEDROCK), {
      input: {
        invokeModel: {
          body: base64(
            invokeBody({ anthropic_beta: ['context-management-2025-06-27', 'effort-2025-11-24'] }),
          ),
        },
      },
    });
    expect(JSON.parse(count.body)).toEqual({ inputTokens: COUNT });
    const sent = JSON.parse(bedrock.requests.at(-1)?.body ?? '{}') as {
      input: { invokeModel: { body: string } };
    };
    const decoded = JSON.parse(Buffer.from(sent.input.invokeModel.body, 'base64').toString('utf8')) as {
      anthropic_beta?: string[];
    };
    expect(decoded.anthropic_beta).toEqual(['effort-2025-11-24']);
  });

  it('is per upstream: the same betas reach a Vertex upstream untouched', async () => {
    const r = await post(
      '/v1/messages',
      { model: 'claude-haiku-4-5', max_tokens: 16, messages: MESSAGES },
      {
        'anthropic-beta': 'oauth-2025-04-20,context-management-2025-06-27',
        'anthropic-version': '2023-06-01',
      },
    );
    expect(r.status).toBe(200);
    expect(vertexMock.requests.at(-1)?.headers['anthropic-beta']).toBe(
      'oauth-2025-04-20,context-management-2025-06-27',
    );
  });
});
