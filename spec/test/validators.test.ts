import { beforeAll, describe, expect, it } from 'vitest';
import {
  createValidators,
  listOperations,
  loadOpenApi,
  loadRequirements,
  parseSseTranscript,
  type SpecValidators,
  specFiles,
} from '../src/index.ts';

let v: SpecValidators;
beforeAll(async () => {
  v = await createValidators();
});

const envelope = { type: 'error', error: { type: 'api_error', message: 'boom' }, request_id: 'req_01abc' };
const message = {
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: 'Hi', citations: null }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 25, output_tokens: 12, cache_creation_input_tokens: 0, service_tier: 'standard' },
};

describe('the spec matches the contract', () => {
  it('lists exactly the contract operations', async () => {
    const ops = (await listOperations()).map((o) => [o.operationId, o.method, o.path, o.feature, o.security]);
    expect(ops).toEqual([
      ['createMessage', 'post', '/v1/messages', 'inference', 'bearer'],
      ['countMessageTokens', 'post', '/v1/messages/count_tokens', 'count-tokens', 'bearer'],
      ['getProtocol', 'get', '/protocol', 'protocol-document', 'none'],
      ['getHealth', 'get', '/healthz', 'health', 'none'],
      ['getReadiness', 'get', '/readyz', 'health', 'none'],
      ['getAuthorizationServerMetadata', 'get', '/.well-known/oauth-authorization-server', 'sign-in', 'none'],
      ['getOcgConfiguration', 'get', '/.well-known/ocg-configuration', 'ocg-configuration', 'none'],
      ['startDeviceAuthorization', 'post', '/oauth/device_authorization', 'sign-in', 'none'],
      ['exchangeToken', 'post', '/oauth/token', 'sign-in', 'none'],
      ['revokeToken', 'post', '/oauth/revoke', 'sign-in', 'none'],
      ['showVerificationPage', 'get', '/device', 'sign-in', 'none'],
      ['submitVerificationPage', 'post', '/device', 'sign-in', 'none'],
      ['completeIdpSignIn', 'get', '/oauth/callback', 'sign-in', 'none'],
      ['getManagedSettings', 'get', '/managed/settings', 'managed-settings', 'bearer'],
      ['listModels', 'get', '/v1/models', 'models', 'bearer'],
      ['getModel', 'get', '/v1/models/{model_id}', 'models', 'bearer'],
      ['getAdminIdentity', 'get', '/v1/admin/me', 'admin', 'admin'],
      ['listSessions', 'get', '/v1/admin/sessions', 'admin', 'admin'],
      ['revokeSession', 'post', '/v1/admin/sessions/{session_id}/revoke', 'admin', 'admin'],
      ['revokeUserSessions', 'post', '/v1/admin/users/{user_id}/revoke_sessions', 'admin', 'admin'],
      ['listAdminApiKeys', 'get', '/v1/admin/api_keys', 'admin', 'admin'],
      ['createAdminApiKey', 'post', '/v1/admin/api_keys', 'admin', 'admin'],
      ['deleteAdminApiKey', 'delete', '/v1/admin/api_keys/{key_id}', 'admin', 'admin'],
      ['invokeBedrockModel', 'post', '/model/{model_id}/invoke', 'bedrock-passthrough', 'bearer'],
      [
        'invokeBedrockModelStream',
        'post',
        '/model/{model_id}/invoke-with-response-stream',
        'bedrock-passthrough',
        'bearer',
      ],
      ['countBedrockModelTokens', 'post', '/model/{model_id}/count-tokens', 'bedrock-passthrough', 'bearer'],
      [
        'vertexCountTokens',
        'post',
        '/v1/projects/{project}/locations/{location}/publishers/anthropic/models/count-tokens:rawPredict',
        'vertex-passthrough',
        'bearer',
      ],
      [
        'vertexRawPredict',
        'post',
        '/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict',
        'vertex-passthrough',
        'bearer',
      ],
      [
        'vertexStreamRawPredict',
        'post',
        '/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:streamRawPredict',
        'vertex-passthrough',
        'bearer',
      ],
      ['getRoutesHealth', 'get', '/v1/admin/routes', 'routing', 'admin'],
    ]);
  });

  it('marks form-encoded request bodies and admin scopes', async () => {
    const ops = new Map((await listOperations()).map((o) => [o.operationId, o]));
    const table: Array<[string, { contentType?: string; adminScope?: string }]> = [
      ['createMessage', { contentType: 'application/json' }],
      ['startDeviceAuthorization', { contentType: 'application/x-www-form-urlencoded' }],
      ['exchangeToken', { contentType: 'application/x-www-form-urlencoded' }],
      ['submitVerificationPage', { contentType: 'application/x-www-form-urlencoded' }],
      ['listSessions', { adminScope: 'read' }],
      ['revokeSession', { adminScope: 'write' }],
      ['createAdminApiKey', { contentType: 'application/json', adminScope: 'write' }],
    ];
    for (const [id, want] of table) {
      const op = ops.get(id);
      expect(op?.requestContentType, id).toBe(want.contentType);
      expect(op?.adminScope, id).toBe(want.adminScope);
    }
  });

  it('has exactly the contract requirements, levels and features', async () => {
    const { features, requirements } = await loadRequirements();
    expect(features.map((f) => [f.id, f.profile])).toEqual([
      ['inference', 'core'],
      ['count-tokens', 'core'],
      ['protocol-document', 'core'],
      ['health', 'operations'],
      ['ocg-configuration', 'core'],
      ['sign-in', 'core'],
      ['managed-settings', 'core'],
      ['models', 'core'],
      ['admin', 'admin'],
      ['routing', 'routing'],
      ['bedrock-passthrough', 'passthrough'],
      ['vertex-passthrough', 'passthrough'],
    ]);
    const inference = (n: number) => [`INFERENCE-${n}`, 'MUST', n === 8 ? 'count-tokens' : 'inference'];
    const errors = (n: number) => [`ERRORS-${n}`, n === 5 ? 'MAY' : 'MUST', 'inference'];
    expect(requirements.map((r) => [r.id, r.level, r.feature])).toEqual([
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(inference),
      ...[1, 2, 3, 4, 5, 6].map(errors),
      ['DISCOVERY-1', 'MUST', 'protocol-document'],
      ['DISCOVERY-2', 'MUST', 'health'],
      ['DISCOVERY-3', 'MUST', 'health'],
      ['DISCOVERY-4', 'MUST', 'sign-in'],
      ['DISCOVERY-5', 'MUST', 'ocg-configuration'],
      ...Array.from({ length: 19 }, (_, i) => [`SESSION-${i + 1}`, 'MUST', 'sign-in']),
      ['POLICY-1', 'MUST', 'managed-settings'],
      ['POLICY-2', 'MUST', 'managed-settings'],
      ['POLICY-3', 'MUST', 'managed-settings'],
      ['POLICY-4', 'MUST', 'managed-settings'],
      ['POLICY-5', 'MAY', 'managed-settings'],
      ['POLICY-6', 'MUST', 'models'],
      ['MODELS-1', 'MUST', 'models'],
      ['MODELS-2', 'MUST', 'models'],
      ['MODELS-3', 'SHOULD', 'models'],
      ['ADMIN-1', 'MUST', 'admin'],
      ['ADMIN-2', 'MUST', 'admin'],
      ['ADMIN-3', 'MUST', 'admin'],
      ['ADMIN-4', 'MUST', 'admin'],
      ...Array.from({ length: 15 }, (_, i) => [`ROUTING-${i + 1}`, 'MUST', 'routing']),
      ['ROUTING-16', 'SHOULD', 'routing'],
      ...Array.from({ length: 6 }, (_, i) => [`PASSTHROUGH-${i + 1}`, 'MUST', 'bedrock-passthrough']),
      ['PASSTHROUGH-7', 'MUST', 'vertex-passthrough'],
      ['PASSTHROUGH-8', 'MUST', 'bedrock-passthrough'],
      ['PASSTHROUGH-9', 'MUST', 'vertex-passthrough'],
      ['PASSTHROUGH-10', 'MUST', 'bedrock-passthrough'],
    ]);
  });

  it('loads the OpenAPI document once and knows where the files are', async () => {
    expect(await loadOpenApi()).toBe(await loadOpenApi());
    expect((await loadOpenApi()).openapi).toBe('3.1.0');
    expect(specFiles.openapi.endsWith('/spec/openapi.yaml')).toBe(true);
    expect(specFiles.reportSchema.endsWith('/spec/schemas/conformance-report.schema.json')).toBe(true);
  });
});

describe('validateResponse', () => {
  const table: {
    name: string;
    op: string;
    r: { status: number; contentType: string | null; body: unknown };
    errors: string[] | RegExp;
  }[] = [
    {
      name: 'a Message',
      op: 'createMessage',
      r: { status: 200, contentType: 'application/json', body: message },
      errors: [],
    },
    {
      name: 'a Message as JSON text with a charset',
      op: 'createMessage',
      r: { status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify(message) },
      errors: [],
    },
    {
      name: 'an error envelope for any status via default',
      op: 'createMessage',
      r: { status: 418, contentType: 'application/json', body: envelope },
      errors: [],
    },
    {
      name: 'health',
      op: 'getHealth',
      r: { status: 200, contentType: 'application/json', body: { status: 'ok' } },
      errors: [],
    },
    {
      name: 'ready',
      op: 'getReadiness',
      r: { status: 200, contentType: 'application/json', body: { status: 'ready' } },
      errors: [],
    },
    {
      name: 'not ready',
      op: 'getReadiness',
      r: {
        status: 503,
        contentType: 'application/json',
        body: { status: 'not_ready', reason: 'database unreachable' },
      },
      errors: [],
    },
    {
      name: 'the protocol',
      op: 'getProtocol',
      r: { status: 200, contentType: 'text/markdown; charset=utf-8', body: '# OCG' },
      errors: [],
    },
    {
      name: 'status checks only when body is undefined',
      op: 'countMessageTokens',
      r: { status: 200, contentType: 'application/json', body: undefined },
      errors: [],
    },
    {
      name: 'an undeclared status',
      op: 'getHealth',
      r: { status: 500, contentType: 'application/json', body: envelope },
      errors: ['status 500 is not declared for getHealth (declared: 200)'],
    },
    {
      name: 'an undeclared status on readiness',
      op: 'getReadiness',
      r: { status: 500, contentType: 'application/json', body: {} },
      errors: ['status 500 is not declared for getReadiness (declared: 200, 503)'],
    },
    {
      name: 'a wrong body shape (Message without usage, wrong type)',
      op: 'createMessage',
      r: {
        status: 200,
        contentType: 'application/json',
        body: { ...message, type: 'msg', usage: undefined },
      },
      errors: ['/type: must be equal to constant "message"', "/: must have required property 'usage'"],
    },
    {
      name: 'a wrong token count',
      op: 'countMessageTokens',
      r: { status: 200, contentType: 'application/json', body: { input_tokens: '12' } },
      errors: ['/input_tokens: must be integer'],
    },
    {
      name: "Bedrock CountTokens' answer",
      op: 'countBedrockModelTokens',
      r: { status: 200, contentType: 'application/json', body: { inputTokens: 25 } },
      errors: [],
    },
    {
      name: 'a Bedrock token count in the Anthropic spelling',
      op: 'countBedrockModelTokens',
      r: { status: 200, contentType: 'application/json', body: { input_tokens: 25 } },
      errors: ["/: must have required property 'inputTokens'"],
    },
    {
      name: 'a Vertex token count is the Anthropic one',
      op: 'vertexCountTokens',
      r: { status: 200, contentType: 'application/json', body: { input_tokens: 25 } },
      errors: [],
    },
    {
      name: 'an error body that is not an envelope',
      op: 'createMessage',
      r: { status: 401, contentType: 'application/json', body: { error: 'unauthorized' } },
      errors: [
        "/: must have required property 'type'",
        "/: must have required property 'request_id'",
        '/error: must be object',
      ],
    },
    {
      name: 'an undeclared content type',
      op: 'getProtocol',
      r: { status: 200, contentType: 'text/html', body: '<h1>' },
      errors: [
        'content-type text/html is not declared for status 200 of getProtocol (declared: text/markdown)',
      ],
    },
    {
      name: 'a missing content type',
      op: 'getHealth',
      r: { status: 200, contentType: null, body: { status: 'ok' } },
      errors: ['missing content-type for status 200 of getHealth (declared: application/json)'],
    },
    {
      name: 'JSON text that does not parse',
      op: 'getHealth',
      r: { status: 200, contentType: 'application/json', body: '{' },
      errors: ['/: body is not valid JSON'],
    },
    {
      name: 'an unknown operation',
      op: 'nope',
      r: { status: 200, contentType: null, body: undefined },
      errors: ['unknown operationId "nope"'],
    },
    {
      name: 'an SSE body with a broken event',
      op: 'createMessage',
      r: {
        status: 200,
        contentType: 'text/event-stream',
        body: 'event: ping\ndata: {"type":"ping"}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop"}\n\n',
      },
      errors: ["event #1 (content_block_stop) /: must have required property 'index'"],
    },
  ];
  it.each(table)('$name', ({ op, r, errors }) => {
    const got = v.validateResponse(op, r);
    if (Array.isArray(errors)) expect([...got].sort()).toEqual([...errors].sort());
    else expect(got.some((e) => errors.test(e))).toBe(true);
  });
});

describe('validateResponse with headers', () => {
  const base = { status: 200, contentType: 'application/json', body: { status: 'ok' } };
  it.each([
    { name: 'a good request-id (record, any case)', headers: { 'Request-Id': 'req_01abc' }, errors: [] },
    {
      name: 'a good request-id (fetch Headers)',
      headers: new Headers({ 'request-id': 'req_01abc' }),
      errors: [],
    },
    {
      name: 'no request-id',
      headers: { 'content-type': 'application/json' },
      errors: ['missing header request-id'],
    },
    {
      name: 'a malformed request-id',
      headers: new Headers({ 'request-id': 'abc' }),
      errors: ['header request-id: must match pattern "^req_[A-Za-z0-9]+$"'],
    },
  ])('$name', ({ headers, errors }) => {
    expect(v.validateResponse('getHealth', { ...base, headers })).toEqual(errors);
  });
});

describe('validateRequestBody', () => {
  it.each([
    {
      op: 'createMessage',
      body: { model: 'm', max_tokens: '10', messages: [{ role: 'user', content: 3 }] },
      errors: ['/max_tokens: must be integer', '/messages/0/content: must be string or array'],
    },
    { op: 'getHealth', body: { a: 1 }, errors: ['getHealth takes no request body'] },
    { op: 'createMessage', body: undefined, errors: ['/: request body is required'] },
    { op: 'missing', body: {}, errors: ['unknown operationId "missing"'] },
  ])('$op $body', ({ op, body, errors }) => {
    expect(v.validateRequestBody(op, body)).toEqual(errors);
  });
});

describe('validateSseEvent', () => {
  it('allows unknown event types and checks known ones', () => {
    expect(v.validateSseEvent('brand_new_event', { anything: true })).toEqual([]);
    expect(v.validateSseEvent('message_stop', { type: 'message_stop' })).toEqual([]);
    expect(v.validateSseEvent('message_stop', 'not json')).toEqual(['/: must be object']);
    expect(
      v.validateSseEvent('content_block_delta', { type: 'content_block_delta', index: -1, delta: {} }),
    ).toEqual(['/index: must be >= 0', "/delta: must have required property 'type'"]);
  });
});

describe('parseSseTranscript', () => {
  it('keeps non-JSON data raw, defaults the event name and remembers the last id', () => {
    expect(parseSseTranscript('data: hello\nid: 7\n\nevent: x\ndata: {"a":1}\n\n')).toEqual([
      { event: 'message', data: 'hello', raw: 'hello', id: '7' },
      { event: 'x', data: { a: 1 }, raw: '{"a":1}', id: '7' },
    ]);
  });
  it('drops events without data and a final unterminated event', () => {
    expect(parseSseTranscript('event: a\n\nevent: b\ndata: 1\n\nevent: c\ndata: 2\n')).toEqual([
      { event: 'b', data: 1, raw: '1' },
    ]);
  });
});

describe('validateReport', () => {
  const report = {
    reportVersion: '0.1',
    kit: { name: '@ocg/conformance', version: '0.1.0' },
    gateway: { adapter: 'reference', baseUrl: 'http://127.0.0.1:8080' },
    seed: 42,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:05.000Z',
    profiles: [{ name: 'core', result: 'partial', passed: 3, failed: 0, unsupported: 1 }],
    cases: [
      {
        id: 'inference.non-streaming',
        title: 'non-streaming relay',
        feature: 'inference',
        requirements: ['INFERENCE-1'],
        result: 'pass',
        durationMs: 12.5,
      },
      {
        id: 'errors.chunked',
        title: 'chunked body',
        feature: 'inference',
        requirements: ['ERRORS-5'],
        result: 'unsupported',
        durationMs: 3,
        message: 'gateway accepts chunked bodies',
        details: { anything: ['goes'] },
      },
    ],
    summary: { passed: 1, failed: 0, unsupported: 1, errored: 0 },
  };
  it('accepts a well-formed report', () => {
    expect(v.validateReport(report)).toEqual([]);
  });
  it.each([
    {
      name: 'extra top-level field',
      patch: { extra: 1 },
      error: "/: must NOT have additional properties 'extra'",
    },
    {
      name: 'wrong version',
      patch: { reportVersion: '1' },
      error: '/reportVersion: must be equal to constant "0.1"',
    },
    {
      name: 'bad date',
      patch: { startedAt: 'yesterday' },
      error: '/startedAt: must match format "date-time"',
    },
    { name: 'non-integer seed', patch: { seed: 1.5 }, error: '/seed: must be integer' },
    {
      name: 'unknown case result',
      patch: { cases: [{ ...report.cases[0], result: 'skipped' }] },
      error:
        '/cases/0/result: must be equal to one of the allowed values ["pass","fail","unsupported","error"]',
    },
    {
      name: 'extra field in a profile',
      patch: { profiles: [{ ...report.profiles[0], score: 1 }] },
      error: "/profiles/0: must NOT have additional properties 'score'",
    },
  ])('rejects $name', ({ patch, error }) => {
    expect(v.validateReport({ ...report, ...patch })).toContain(error);
  });
});
