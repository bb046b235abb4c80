/**
 * The mock Vertex upstream is faithful enough for the official `@anthropic-ai/vertex-sdk` to use it as if it were
 * Vertex AI (protocol-facts §3, §7): model-in-the-URL `:rawPredict` / `:streamRawPredict`, count-tokens, the
 * bearer requirement and Google error envelopes. The SDK gets its bearer from a stub AuthClient, so no Google
 * endpoint is called.
 */
import Anthropic from '@anthropic-ai/sdk';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ANSWER } from '../src/mocks/anthropic/index.ts';
import { type MockVertex, startMockVertex, VERTEX_ANTHROPIC_VERSION } from '../src/mocks/vertex/index.ts';

const TOKEN = 'ya29.test-access-token';
const PROJECT = 'ocg-test-project';
const MODEL = 'claude-sonnet-4-5@20250929';

let mock: MockVertex;
let client: AnthropicVertex;

/** A stand-in for google-auth-library's AuthClient: just the method the SDK calls. */
function stubAuth(token: string | null): ConstructorParameters<typeof AnthropicVertex>[0] {
  const authClient = {
    projectId: undefined,
    getRequestHeaders: async () => new Headers(token === null ? {} : { authorization: `Bearer ${token}` }),
  };
  return { authClient: authClient as never };
}

function vertexClient(token: string | null, projectId = PROJECT): AnthropicVertex {
  return new AnthropicVertex({
    projectId,
    region: 'us-east5',
    baseURL: `${mock.url}/v1`,
    maxRetries: 0,
    ...stubAuth(token),
  });
}

beforeAll(async () => {
  mock = await startMockVertex({ accessToken: TOKEN, projectId: PROJECT });
  client = vertexClient(TOKEN);
});
afterAll(() => mock.close());
beforeEach(() => mock.reset());

const params = { model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content: 'Say hello' }] };
const base = `/v1/projects/${PROJECT}/locations/us-east5/publishers/anthropic/models`;

function apiError(err: unknown): InstanceType<typeof Anthropic.APIError> {
  expect(err).toBeInstanceOf(Anthropic.APIError);
  return err as InstanceType<typeof Anthropic.APIError>;
}

describe('mock Vertex upstream, seen through @anthropic-ai/vertex-sdk', () => {
  it('answers a non-streaming create at :rawPredict with a msg_vrtx Message', async () => {
    const message = await client.messages.create(params, {
      headers: { 'anthropic-beta': 'context-1m-2025-08-07' },
    });
    expect(message.id).toMatch(/^msg_vrtx_[A-Za-z0-9]+$/);
    expect(message.content[0]).toMatchObject({ type: 'text', text: DEFAULT_ANSWER });
    expect(message.stop_reason).toBe('end_turn');
    const seen = mock.requests[0];
    expect(seen?.url).toBe(`${base}/${MODEL}:rawPredict`);
    expect(seen?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen?.headers['anthropic-beta']).toBe('context-1m-2025-08-07');
    const body = JSON.parse(seen?.body ?? '{}') as Record<string, unknown>;
    expect(body.model).toBeUndefined();
    expect(typeof body.anthropic_version).toBe('string');
  });

  it('streams at :streamRawPredict; the SDK assembles the message', async () => {
    const stream = client.messages.stream(params);
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(DEFAULT_ANSWER);
    expect(final.id).toMatch(/^msg_vrtx_/);
    expect(final.usage.output_tokens).toBeGreaterThan(1);
    expect(mock.requests[0]?.url).toBe(`${base}/${MODEL}:streamRawPredict`);
    expect(JSON.parse(mock.requests[0]?.body ?? '{}')).toMatchObject({ stream: true });
    expect(mock.requests[0]?.response?.headers['content-type']).toMatch(/^text\/event-stream/);
  });

  it('counts tokens at count-tokens:rawPredict with the model kept in the body', async () => {
    const count = await client.messages.countTokens({ model: MODEL, messages: params.messages });
    expect(count.input_tokens).toBeGreaterThan(0);
    expect(mock.requests[0]?.url).toBe(`${base}/count-tokens:rawPredict`);
    expect(JSON.parse(mock.requests[0]?.body ?? '{}')).toMatchObject({ model: MODEL });
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', Anthropic.RateLimitError],
    [503, 'UNAVAILABLE', Anthropic.InternalServerError],
    [400, 'INVALID_ARGUMENT', Anthropic.BadRequestError],
    [404, 'NOT_FOUND', Anthropic.NotFoundError],
    [504, 'DEADLINE_EXCEEDED', Anthropic.InternalServerError],
  ])('a scripted %i answers the Google envelope %s', async (status, googleStatus, errorClass) => {
    mock.enqueue({ status });
    const err = apiError(await client.messages.create(params).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(errorClass);
    expect(err.status).toBe(status);
    expect(err.headers?.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(err.error).toMatchObject({ error: { code: status, status: googleStatus } });
  });

  it('a scripted 529 is the Anthropic overloaded_error envelope (a model-level error)', async () => {
    mock.enqueue({ status: 529 });
    const err = apiError(await client.messages.create(params).catch((e: unknown) => e));
    expect(err.status).toBe(529);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('refuses a missing bearer with 401 UNAUTHENTICATED (and a wrong one)', async () => {
    for (const token of [null, 'ya29.wrong']) {
      const err = apiError(
        await vertexClient(token)
          .messages.create(params)
          .catch((e: unknown) => e),
      );
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(err.error).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED' } });
      expect(err.headers?.get('www-authenticate')).toMatch(/^Bearer /);
    }
    expect(mock.requests.every((r) => r.response?.status === 401)).toBe(true);
  });

  it('refuses another project with 403 PERMISSION_DENIED', async () => {
    const err = apiError(
      await vertexClient(TOKEN, 'someone-else')
        .messages.create(params)
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(err.error).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
  });
});

describe('mock Vertex upstream strictness (what a gateway must get right)', () => {
  const send = (path: string, body: unknown, token = TOKEN) =>
    fetch(`${mock.url}${base}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const good = { anthropic_version: VERTEX_ANTHROPIC_VERSION, max_tokens: 16, messages: params.messages };

  it.each([
    [
      'model in a predict body',
      `${MODEL}:rawPredict`,
      { ...good, model: MODEL },
      400,
      'invalid_request_error',
    ],
    [
      'no anthropic_version',
      `${MODEL}:rawPredict`,
      { ...good, anthropic_version: undefined },
      400,
      'invalid_request_error',
    ],
    [
      'an unknown anthropic_version',
      `${MODEL}:rawPredict`,
      { ...good, anthropic_version: '2023-06-01' },
      404,
      'NOT_FOUND',
    ],
    [
      'stream: true at :rawPredict',
      `${MODEL}:rawPredict`,
      { ...good, stream: true },
      400,
      'INVALID_ARGUMENT',
    ],
    ['no stream at :streamRawPredict', `${MODEL}:streamRawPredict`, good, 400, 'INVALID_ARGUMENT'],
    ['count-tokens without model', 'count-tokens:rawPredict', good, 400, 'invalid_request_error'],
    ['an unknown method', `${MODEL}:predict`, good, 404, 'NOT_FOUND'],
  ])('refuses %s', async (_name, path, body, status, kind) => {
    const res = await send(path, body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { type?: string; status?: string } };
    expect(json.error.type ?? json.error.status).toBe(kind);
  });

  it('accepts the body a gateway sends: vertex-2023-10-16, no model', async () => {
    const res = await send(`${MODEL}:rawPredict`, good);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toMatch(/^msg_vrtx_/);
  });

  it('is controllable over HTTP under /__ocg/control', async () => {
    const enq = await fetch(`${mock.url}/__ocg/control/enqueue`, { method: 'POST', body: '{"status":429}' });
    expect(enq.status).toBe(204);
    expect((await send(`${MODEL}:rawPredict`, good)).status).toBe(429);
    const recorded = (await (await fetch(`${mock.url}/__ocg/control/requests`)).json()) as Array<{
      url: string;
    }>;
    expect(recorded.map((r) => r.url)).toEqual([`${base}/${MODEL}:rawPredict`]);
  });
});
