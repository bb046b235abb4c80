/**
 * Upstream kind `vertex` against the kit's Vertex mock (no gateway): the same conversation streamed and not comes
 * back as the Anthropic answer / SSE; URLs per region; the body transform; the OAuth2 bearer (service-account key
 * against a fake token endpoint: cached, refreshed before expiry, one fetch under concurrency); Google errors mapped
 * to the Anthropic envelope (never 401/403, never the Google message); client abort reaches Vertex.
 */
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { importSPKI, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ANSWER } from '../../conformance/src/mocks/anthropic/index.ts';
import { type MockVertex, startMockVertex } from '../../conformance/src/mocks/vertex/index.ts';
import { GatewayError } from '../src/errors.ts';
import { createLogger, type Logger } from '../src/log/logger.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../src/upstream/anthropic.ts';
import {
  createVertexUpstream,
  mapVertexError,
  type VertexUpstreamConfig,
  vertexBaseUrl,
} from '../src/upstream/vertex/index.ts';
import { modelPath, rewriteBody } from '../src/upstream/vertex/request.ts';

const TOKEN = 'ya29.static-test-token';
const PROJECT = 'ocg-vertex-project';
const VERTEX_MODEL = 'claude-sonnet-4-5@20250929';
const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000 };

let mock: MockVertex;
let logLines: string[];
let logger: Logger;
let upstream: Upstream;

function config(over: Partial<VertexUpstreamConfig> = {}): VertexUpstreamConfig {
  return {
    name: 'vertex-test',
    kind: 'vertex',
    projectId: PROJECT,
    region: 'us-east5',
    baseUrl: `${mock.url}/v1`,
    auth: { type: 'access-token', token: TOKEN },
    timeouts: TIMEOUTS,
    ...over,
  };
}

const conversation = {
  model: 'claude-sonnet-4-5',
  max_tokens: 512,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Say hello' }],
};

function request(over: Partial<UpstreamRequest> & { json?: unknown } = {}): UpstreamRequest {
  const { json, ...rest } = over;
  return {
    path: '/v1/messages',
    search: '',
    rawHeaders: [
      'Content-Type',
      'application/json',
      'anthropic-version',
      '2023-06-01',
      'anthropic-beta',
      'interleaved-thinking-2025-05-14',
      'Authorization',
      'Bearer client-gateway-token',
      'x-api-key',
      'client-key',
      'User-Agent',
      'claude-cli/2.1.200 (external, sdk-cli)',
    ],
    body: Buffer.from(JSON.stringify(json ?? conversation)),
    signal: new AbortController().signal,
    awaitsWholeAnswer: false,
    upstreamModel: VERTEX_MODEL,
    ...rest,
  };
}

async function text(body: Readable): Promise<string> {
  let out = '';
  for await (const chunk of body) out += (chunk as Buffer).toString('utf8');
  return out;
}

async function sendText(u: Upstream, req: UpstreamRequest): Promise<UpstreamResponse & { text: string }> {
  const res = await u.send(req);
  return { ...res, text: await text(res.body) };
}

beforeAll(async () => {
  mock = await startMockVertex({ accessToken: TOKEN, projectId: PROJECT });
  logLines = [];
  logger = createLogger({ level: 'debug', write: (l) => logLines.push(l) });
  upstream = createVertexUpstream(config(), logger);
});
afterAll(async () => {
  await upstream?.close();
  await mock?.close();
});
beforeEach(() => {
  mock.reset();
  logLines.length = 0;
});

const base = `/v1/projects/${PROJECT}/locations/us-east5/publishers/anthropic/models`;

describe('vertex upstream: the conversation', () => {
  it('answers a non-streaming message with the Anthropic Message', async () => {
    const res = await sendText(upstream, request({ awaitsWholeAnswer: true }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const message = JSON.parse(res.text) as Record<string, unknown>;
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: DEFAULT_ANSWER }],
      stop_reason: 'end_turn',
    });
    expect(message.id).toMatch(/^msg_vrtx_/);
    expect(mock.requests[0]?.url).toBe(`${base}/${VERTEX_MODEL}:rawPredict`);
  });

  it('streams the same answer as Anthropic SSE from :streamRawPredict', async () => {
    const res = await sendText(upstream, request({ json: { ...conversation, stream: true } }));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = [...res.text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events[0]).toBe('message_start');
    expect(events.at(-1)).toBe('message_stop');
    const deltas = [...res.text.matchAll(/"text_delta","text":("(?:[^"\\]|\\.)*")/g)].map(
      (m) => JSON.parse(m[1] as string) as string,
    );
    expect(deltas.join('')).toBe(DEFAULT_ANSWER);
    expect(mock.requests[0]?.url).toBe(`${base}/${VERTEX_MODEL}:streamRawPredict`);
  });

  it('relays the stream incrementally: the first events arrive while Vertex still holds the rest', async () => {
    mock.enqueue({ holdAfter: 2 });
    const res = await upstream.send(request({ json: { ...conversation, stream: true } }));
    const iterator = res.body[Symbol.asyncIterator]();
    const first = String(((await iterator.next()) as IteratorResult<Buffer>).value);
    expect(first).toMatch(/^event: message_start/);
    mock.release();
    let rest = first;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest += String(r.value);
    expect(rest).toContain('event: message_stop');
  });

  it('counts tokens at count-tokens:rawPredict with the Vertex model id in the body', async () => {
    const res = await sendText(
      upstream,
      request({
        path: '/v1/messages/count_tokens',
        json: { model: 'claude-sonnet-4-5', messages: conversation.messages },
      }),
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ input_tokens: expect.any(Number) });
    expect(mock.requests[0]?.url).toBe(`${base}/count-tokens:rawPredict`);
    expect(JSON.parse(mock.requests[0]?.body ?? '{}')).toMatchObject({
      model: VERTEX_MODEL,
      anthropic_version: 'vertex-2023-10-16',
    });
  });

  it('falls back to the body model when no upstream model is given, and drops ?beta=true', async () => {
    await sendText(
      upstream,
      request({
        upstreamModel: undefined,
        search: '?beta=true',
        json: { ...conversation, model: 'claude-haiku-4-5@20251001' },
      }),
    );
    expect(mock.requests[0]?.url).toBe(`${base}/claude-haiku-4-5@20251001:rawPredict`);
  });

  it('sends the Google bearer and the betas, never the client credential or anthropic-version', async () => {
    await sendText(upstream, request());
    const h = mock.requests[0]?.headers ?? {};
    expect(h.authorization).toBe(`Bearer ${TOKEN}`);
    expect(h['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
    expect(h['user-agent']).toBe('claude-cli/2.1.200 (external, sdk-cli)');
    expect(h['x-api-key']).toBeUndefined();
    expect(h['anthropic-version']).toBeUndefined();
    expect(h['content-type']).toBe('application/json');
  });

  it('refuses a path Vertex does not serve and a body without a model', async () => {
    await expect(upstream.send(request({ path: '/v1/models' }))).rejects.toMatchObject({ status: 404 });
    await expect(
      upstream.send(request({ upstreamModel: undefined, json: { messages: [], max_tokens: 1 } })),
    ).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect(mock.requests).toHaveLength(0);
  });
});

describe('vertex upstream: URLs', () => {
  it.each([
    ['global', 'https://aiplatform.googleapis.com/v1'],
    ['us', 'https://aiplatform.us.rep.googleapis.com/v1'],
    ['eu', 'https://aiplatform.eu.rep.googleapis.com/v1'],
    ['us-east5', 'https://us-east5-aiplatform.googleapis.com/v1'],
    ['europe-west1', 'https://europe-west1-aiplatform.googleapis.com/v1'],
    ['asia-southeast1', 'https://asia-southeast1-aiplatform.googleapis.com/v1'],
  ])('region %s → %s', (region, url) => {
    expect(vertexBaseUrl(region)).toBe(url);
    expect(vertexBaseUrl(region) + modelPath('p', region, VERTEX_MODEL, 'rawPredict')).toBe(
      `${url}/projects/p/locations/${region}/publishers/anthropic/models/${VERTEX_MODEL}:rawPredict`,
    );
  });

  it.each([
    ['a slash', 'x/../../other', 'x%2F..%2F..%2Fother'],
    ['a colon', 'm:streamRawPredict', 'm%3AstreamRawPredict'],
    ['a semicolon', 'm;x', 'm%3Bx'],
    ['a query', 'm?q=1#f', 'm%3Fq=1%23f'],
  ])('a model with %s cannot leave its path segment', (_n, model, encoded) => {
    expect(modelPath('p', 'us', model, 'rawPredict')).toBe(
      `/projects/p/locations/us/publishers/anthropic/models/${encoded}:rawPredict`,
    );
  });

  it('uses the region host by default and refuses a region or project that would change the URL', () => {
    expect(() => createVertexUpstream(config({ region: 'us-east5.evil.com' }), logger)).toThrow(GatewayError);
    expect(() => createVertexUpstream(config({ region: 'US East' }), logger)).toThrow(GatewayError);
    expect(() => createVertexUpstream(config({ projectId: 'a/b' }), logger)).toThrow(GatewayError);
    expect(() => createVertexUpstream(config({ projectId: '..' }), logger)).toThrow(GatewayError);
  });
});

describe('vertex upstream: body transform', () => {
  it('drops model, adds anthropic_version, keeps stream and every other byte', async () => {
    const raw =
      '{ "model" : "claude-sonnet-4-5", "max_tokens": 1.0e3, "stream": true,\n "metadata": {"user_id": "{\\"model\\":1}"},' +
      ' "messages": [{"role":"user","content":"caf\\u00e9 \u{1F600}"}], "x_unknown": [1, {"model": "inner"}] }';
    await sendText(upstream, request({ body: Buffer.from(raw) }));
    expect(mock.requests[0]?.body).toBe(
      '{"max_tokens": 1.0e3,"stream": true,"metadata": {"user_id": "{\\"model\\":1}"},' +
        '"messages": [{"role":"user","content":"caf\\u00e9 \u{1F600}"}],"x_unknown": [1, {"model": "inner"}],' +
        '"anthropic_version":"vertex-2023-10-16"}',
    );
  });

  it.each([
    ['an escaped key', '{"mod\\u0065l":"x","max_tokens":1}', '{"max_tokens":1,"a":"v"}'],
    ['duplicates', '{"model":"x","max_tokens":1,"model":"y"}', '{"max_tokens":1,"a":"v"}'],
    ['a client anthropic_version', '{"a":"old","max_tokens":1}', '{"max_tokens":1,"a":"v"}'],
    ['an empty object', '{}', '{"a":"v"}'],
    ['nested braces in strings', '{"s":"}{,\\"","model":"m"}', '{"s":"}{,\\"","a":"v"}'],
  ])('rewrites %s', (_n, input, output) => {
    expect(rewriteBody(Buffer.from(input), ['model'], { a: 'v' }).toString()).toBe(output);
    expect(JSON.parse(output)).toBeTypeOf('object');
  });
});

describe('vertex upstream: Google errors → the Anthropic envelope', () => {
  it.each([
    [429, 429, 'rate_limit_error'],
    [503, 503, 'api_error'],
    [400, 400, 'invalid_request_error'],
    [404, 404, 'not_found_error'],
    [504, 504, 'timeout_error'],
    [500, 500, 'api_error'],
    [501, 501, 'not_supported'],
    [409, 503, 'api_error'],
  ])(
    'Google %i → %i %s, with a generic message and the detail in the log',
    async (status, clientStatus, type) => {
      mock.enqueue({ status });
      const res = await sendText(upstream, request());
      expect(res.status).toBe(clientStatus);
      const envelope = JSON.parse(res.text) as { type: string; error: { type: string; message: string } };
      expect(envelope).toMatchObject({ type: 'error', error: { type } });
      expect(res.text).not.toContain(PROJECT);
      const logged = logLines.find((l) => l.includes('vertex answered an error')) ?? '';
      expect(logged).toContain(`"upstream_status":${status}`);
      if (![503, 504].includes(status)) expect(logged).toContain(PROJECT);
    },
  );

  it.each([
    [
      'UNAVAILABLE saying overloaded',
      503,
      { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } },
      529,
      'overloaded_error',
    ],
    [
      'an Anthropic overloaded_error from the model',
      529,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      529,
      'overloaded_error',
    ],
    [
      'an Anthropic invalid_request_error from the model',
      400,
      {
        type: 'error',
        error: { type: 'invalid_request_error', message: `prompt is too long (project ${PROJECT})` },
      },
      400,
      'invalid_request_error',
    ],
    ['an HTML 502 from a front end', 502, '<html>Bad Gateway</html>', 502, 'api_error'],
    ['an HTML 413', 413, '<html>Request Entity Too Large</html>', 413, 'request_too_large'],
  ])('%s is mapped', async (_n, status, body, clientStatus, type) => {
    mock.enqueue({ status, body });
    const res = await sendText(upstream, request());
    expect(res.status).toBe(clientStatus);
    expect(JSON.parse(res.text)).toMatchObject({ type: 'error', error: { type } });
    expect(res.text).not.toContain(PROJECT);
  });

  it.each([
    ['Google 401 UNAUTHENTICATED', 401, undefined],
    ['Google 403 PERMISSION_DENIED', 403, undefined],
    [
      'an Anthropic authentication_error',
      401,
      { type: 'error', error: { type: 'authentication_error', message: 'x' } },
    ],
    [
      'PERMISSION_DENIED with another HTTP status',
      400,
      { error: { code: 400, message: 'denied', status: 'PERMISSION_DENIED' } },
    ],
  ])(
    '%s (the gateway credential) is ERR_UPSTREAM_AUTH: 502 api_error, never 401/403',
    async (_n, status, body) => {
      mock.enqueue(body === undefined ? { status } : { status, body });
      const err = await upstream.send(request()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'ERR_UPSTREAM_AUTH', status: 502, type: 'api_error' });
      expect((err as GatewayError).message).not.toContain(PROJECT);
      expect(logLines.some((l) => l.includes('vertex refused the gateway credential'))).toBe(true);
    },
  );

  it('keeps retry-after, and derives it from a google.rpc.RetryInfo detail', async () => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '7' } });
    expect((await sendText(upstream, request())).headers['retry-after']).toBe('7');
    mock.enqueue({
      status: 429,
      body: {
        error: {
          code: 429,
          message: 'Quota exceeded',
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' }],
        },
      },
    });
    expect((await sendText(upstream, request())).headers['retry-after']).toBe('3');
    expect(
      mapVertexError(400, '{"error":{"code":400,"status":"INVALID_ARGUMENT"}}', '5').retryAfter,
    ).toBeUndefined();
  });

  it('an unreachable Vertex is 502 api_error', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const dead = createVertexUpstream(config({ baseUrl: `http://127.0.0.1:${port}/v1` }), logger);
    await expect(dead.send(request())).rejects.toMatchObject({ status: 502, type: 'api_error' });
    await dead.close();
  });
});

describe('vertex upstream: timeouts', () => {
  const quick = { connectMs: 1000, firstByteMs: 300, idleMs: 300 };

  it('no headers within the first-byte limit is 504 (ERR_UPSTREAM_TIMEOUT)', async () => {
    const u = createVertexUpstream(config({ timeouts: quick }), logger);
    mock.enqueue({ delayMs: 3000 });
    const started = Date.now();
    await expect(u.send(request({ json: { ...conversation, stream: true } }))).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_TIMEOUT',
      status: 504,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    await u.close();
  });

  it('a stream silent past the idle limit fails its body with UND_ERR_BODY_TIMEOUT (relay.ts ends it with an SSE error)', async () => {
    const u = createVertexUpstream(config({ timeouts: quick }), logger);
    mock.enqueue({ holdAfter: 2 });
    const res = await u.send(request({ json: { ...conversation, stream: true } }));
    const err = await text(res.body).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UND_ERR_BODY_TIMEOUT');
    await u.close();
  });
});

describe('vertex upstream: client abort', () => {
  it('aborting mid-stream closes the Vertex connection', async () => {
    mock.enqueue({ holdAfter: 1 });
    const controller = new AbortController();
    const res = await upstream.send(
      request({ json: { ...conversation, stream: true }, signal: controller.signal }),
    );
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    expect(await mock.requests[0]?.outcome).toBe('client-closed');
  });

  it('aborting before the headers rejects at once and closes the Vertex connection', async () => {
    mock.enqueue({ delayMs: 10_000 });
    const controller = new AbortController();
    const pending = upstream.send(request({ signal: controller.signal }));
    await mock.waitForRequest();
    const started = Date.now();
    controller.abort();
    await expect(pending).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await mock.requests[0]?.outcome).toBe('client-closed');
  });
});

describe('vertex upstream: OAuth2 bearer from a service-account key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = 'ocg-gateway@ocg-vertex-project.iam.gserviceaccount.com';
  let tokenServer: Server;
  let dir: string;
  let keyFile: string;
  let keyJson: Record<string, unknown>;
  let issued: string[];
  let expiresIn: number;
  let failTokens: boolean;
  let tokenMock: MockVertex;

  beforeAll(async () => {
    issued = [];
    const verifyKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'RS256');
    tokenServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        void (async () => {
          const form = new URLSearchParams(body);
          if (failTokens) {
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end('{"error":"invalid_grant","error_description":"Invalid JWT Signature."}');
            return;
          }
          try {
            const { payload } = await jwtVerify(form.get('assertion') ?? '', verifyKey, { issuer: email });
            if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
              throw new Error('grant');
            if (payload.scope !== 'https://www.googleapis.com/auth/cloud-platform') throw new Error('scope');
          } catch {
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end('{"error":"invalid_grant"}');
            return;
          }
          const token = `ya29.fake-${issued.length + 1}`;
          issued.push(token);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: expiresIn }));
        })();
      });
    });
    tokenServer.listen(0, '127.0.0.1');
    await once(tokenServer, 'listening');
    const port = (tokenServer.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'ocg-vertex-'));
    keyFile = join(dir, 'sa.json');
    keyJson = {
      type: 'service_account',
      project_id: PROJECT,
      private_key_id: 'test-key-1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: email,
      client_id: '1234567890',
      token_uri: `http://127.0.0.1:${port}/token`,
    };
    writeFileSync(keyFile, JSON.stringify(keyJson));
    tokenMock = await startMockVertex({ projectId: PROJECT, acceptToken: (t) => issued.includes(t) });
  });
  afterAll(async () => {
    await tokenMock?.close();
    await new Promise<void>((r) => tokenServer.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    issued.length = 0;
    failTokens = false;
    tokenMock.reset();
  });

  const saUpstream = (refreshBeforeExpiryMs: number) =>
    createVertexUpstream(
      config({
        baseUrl: `${tokenMock.url}/v1`,
        auth: { type: 'service-account', credentialsFile: keyFile, refreshBeforeExpiryMs },
      }),
      logger,
    );

  it('signs an assertion with the key, caches the token, and fetches a new one when it nears expiry', async () => {
    // Tokens live 3600 s; "near expiry" is set to 3600 s − 2.5 s, so the first token is fresh for ~2.5 s.
    expiresIn = 3600;
    const u = saUpstream(3_600_000 - 2500);
    const bearer = () => tokenMock.requests.at(-1)?.headers.authorization;
    expect((await sendText(u, request())).status).toBe(200);
    expect(bearer()).toBe('Bearer ya29.fake-1');
    expect((await sendText(u, request())).status).toBe(200);
    expect(bearer()).toBe('Bearer ya29.fake-1');
    expect(issued).toHaveLength(1);

    await new Promise((r) => setTimeout(r, 2600));
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => sendText(u, request())));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(issued).toEqual(['ya29.fake-1', 'ya29.fake-2']);
    expect(bearer()).toBe('Bearer ya29.fake-2');
    await u.close();
  });

  it('a token that expires within the default 5-minute window is refreshed on the next request', async () => {
    expiresIn = 240; // already inside the default window: never reused
    const u = saUpstream(5 * 60_000);
    await sendText(u, request());
    await sendText(u, request());
    expect(issued).toEqual(['ya29.fake-1', 'ya29.fake-2']);
    await u.close();
  });

  it('ADC from GOOGLE_APPLICATION_CREDENTIALS: token_uri honoured, the quota project sent', async () => {
    expiresIn = 3600;
    const adcFile = join(dir, 'adc.json');
    writeFileSync(adcFile, JSON.stringify({ ...keyJson, quota_project_id: 'ocg-billing' }));
    const previous = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = adcFile;
    try {
      const u = createVertexUpstream(
        config({ baseUrl: `${tokenMock.url}/v1`, auth: { type: 'adc' } }),
        logger,
      );
      expect((await sendText(u, request())).status).toBe(200);
      expect(tokenMock.requests[0]?.headers.authorization).toBe('Bearer ya29.fake-1');
      expect(tokenMock.requests[0]?.headers['x-goog-user-project']).toBe('ocg-billing');
      await u.close();
    } finally {
      if (previous === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = previous;
    }
  });

  it('a token endpoint refusal is 502 api_error for the client, the detail in the log, nothing sent to Vertex', async () => {
    failTokens = true;
    expiresIn = 3600;
    const u = saUpstream(60_000);
    const err = await u.send(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_AUTH', status: 502, type: 'api_error' });
    expect(tokenMock.requests).toHaveLength(0);
    const logged = logLines.find((l) => l.includes('vertex access token could not be obtained')) ?? '';
    expect(logged).toContain('invalid_grant');
    expect(logged).not.toContain('PRIVATE KEY');
    await u.close();
  });
});
