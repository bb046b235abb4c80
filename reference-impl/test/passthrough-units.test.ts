/**
 * The pass-through pieces on their own: provider model ids → catalogue (PASSTHROUGH-2), the provider-shaped body →
 * the Anthropic body (PASSTHROUGH-1), the provider token-count bodies → the count_tokens body (PASSTHROUGH-8,
 * PASSTHROUGH-9), SSE → AWS event stream frames (PASSTHROUGH-5), Bedrock's non-streaming answers (PASSTHROUGH-8,
 * PASSTHROUGH-10) and the error shapes (PASSTHROUGH-6, PASSTHROUGH-7).
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { countTokensAnswer, invocationHeaders } from '../src/passthrough/bedrock-answer.ts';
import { renderBedrockError, renderGoogleError } from '../src/passthrough/errors.ts';
import { chunkFrame, SseToEventStream } from '../src/passthrough/eventstream.ts';
import { mapProviderModel, stripProviderDecoration } from '../src/passthrough/models.ts';
import {
  anthropicRequestHeaders,
  bedrockCountTokensRequest,
  toAnthropicRequest,
  vertexCountTokensModel,
  vertexCountTokensRequest,
} from '../src/passthrough/request.ts';
import { createModelCatalogue } from '../src/policy/models.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

describe('provider model ids → catalogue', () => {
  const models = [
    { id: 'claude-sonnet-4-5-20250929', displayName: 'Sonnet 4.5', aliases: ['claude-sonnet-4-5'] },
    { id: 'claude-opus-5-5', displayName: 'Opus 5.5' },
    { id: 'claude-haiku-4-5', displayName: 'Haiku 4.5' },
    {
      id: 'house-model',
      displayName: 'House',
      targets: [
        {
          upstream: 'bedrock',
          model: 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc',
        },
      ],
    },
  ];
  const catalogue = createModelCatalogue(models);
  it.each([
    ['bedrock', 'anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929'],
    ['bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929'],
    ['bedrock', 'global.anthropic.claude-opus-5-5', 'claude-opus-5-5'],
    ['bedrock', 'us-gov.anthropic.claude-opus-5-5-v1', 'claude-opus-5-5'],
    [
      'bedrock',
      'arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-opus-5-5',
      'claude-opus-5-5',
    ],
    ['bedrock', 'apac.anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4-5'], // dated → undated entry
    ['bedrock', 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc', 'house-model'],
    ['bedrock', 'anthropic.claude-nonesuch-1-v1:0', 'claude-nonesuch-1'],
    ['vertex', 'claude-sonnet-4-5@20250929', 'claude-sonnet-4-5-20250929'],
    ['vertex', 'claude-opus-5-5', 'claude-opus-5-5'],
    ['vertex', 'claude-sonnet-4-5', 'claude-sonnet-4-5-20250929'],
  ] as const)('%s %s → %s', (provider, id, want) => {
    expect(mapProviderModel(provider, id, models, catalogue)).toBe(want);
  });

  it('matches a target by its provider id with the decoration stripped on both sides', () => {
    const m = [{ id: 'sonnet-house', targets: [{ upstream: 'b', model: 'anthropic.claude-sonnet-9-v1:0' }] }];
    const c = createModelCatalogue([{ id: 'sonnet-house', displayName: 'S' }]);
    expect(mapProviderModel('bedrock', 'us.anthropic.claude-sonnet-9-v1:0', m, c)).toBe('sonnet-house');
    expect(stripProviderDecoration('vertex', 'claude-x@20250101')).toBe('claude-x-20250101');
  });
});

describe('provider body → Anthropic body', () => {
  it('drops anthropic_version, moves anthropic_beta to the header, sets model and stream', () => {
    const r = toAnthropicRequest(
      'bedrock',
      {
        anthropic_version: 'bedrock-2023-05-31',
        anthropic_beta: ['b1'],
        max_tokens: 5,
        messages: [],
        stream: true,
      },
      'claude-x',
      false,
    );
    expect(r.json).toEqual({ model: 'claude-x', max_tokens: 5, messages: [], stream: false });
    expect(r.betas).toEqual(['b1']);
    expect(JSON.parse(r.raw.toString('utf8'))).toEqual(r.json);
    const headers = anthropicRequestHeaders(
      [
        'Authorization',
        'Bearer t',
        'anthropic-beta',
        'b0,b1',
        'X-Amz-Date',
        'x',
        'accept',
        'application/vnd.amazon.eventstream',
      ],
      r.betas,
      true,
    );
    expect(headers).toEqual([
      'Authorization',
      'Bearer t',
      'content-type',
      'application/json',
      'accept',
      'text/event-stream',
      'anthropic-version',
      '2023-06-01',
      'anthropic-beta',
      'b0,b1',
    ]);
  });

  it('keeps a Vertex body stream flag on rawPredict', () => {
    const body = { anthropic_version: 'vertex-2023-10-16', max_tokens: 5, messages: [], stream: true };
    expect(toAnthropicRequest('vertex', body, 'm', 'from-body').json.stream).toBe(true);
    expect(toAnthropicRequest('bedrock', body, 'm', 'from-body').json.stream).toBe(false);
  });

  it.each([
    [[], 'The request body must be a JSON object.'],
    [{ max_tokens: 1, messages: [] }, 'anthropic_version is required (a string).'],
    [
      { anthropic_version: 'v', anthropic_beta: 'x', max_tokens: 1, messages: [] },
      'anthropic_beta must be an array of strings.',
    ],
    [{ anthropic_version: 'v', max_tokens: 1 }, 'messages is required (an array).'],
    [{ anthropic_version: 'v', max_tokens: 0, messages: [] }, 'max_tokens is required (a positive integer).'],
  ])('refuses %j', (body, message) => {
    expect(() => toAnthropicRequest('bedrock', body, 'm', false)).toThrow(message);
  });
});

describe('provider token-count body → count_tokens body', () => {
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');
  const invoke = {
    anthropic_version: 'bedrock-2023-05-31',
    anthropic_beta: ['b1'],
    max_tokens: 4096,
    temperature: 1,
    top_p: 0.9,
    top_k: 5,
    stop_sequences: ['x'],
    metadata: { user_id: 'u' },
    system: 's',
    messages: [{ role: 'user', content: 'hi' }],
    tools: [],
    thinking: { type: 'enabled', budget_tokens: 1024 },
  };

  it('Bedrock: decodes the InvokeModel body, keeps what counts, drops what only generation takes', () => {
    const r = bedrockCountTokensRequest({ input: { invokeModel: { body: b64(invoke) } } }, 'claude-x');
    expect(r.json).toEqual({
      model: 'claude-x',
      system: 's',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [],
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
    expect(r.betas).toEqual(['b1']);
  });

  it.each([
    [{}, 'input is required'],
    [{ input: 'x' }, 'input is required'],
    [{ input: { converse: {} } }, 'input.converse is not supported'],
    [{ input: { invokeModel: { body: 7 } } }, 'input.invokeModel.body is required'],
    [{ input: { invokeModel: { body: 'a-b_' } } }, 'must be the base64 of a JSON object'], // base64url is not base64
    [{ input: { invokeModel: { body: b64('null') } } }, 'must be the base64 of a JSON object'],
    [
      { input: { invokeModel: { body: b64({ messages: [] }) } } },
      'anthropic_version is required (a string).',
    ],
    [
      {
        input: { invokeModel: { body: b64({ anthropic_version: 'v', anthropic_beta: 'x', messages: [] }) } },
      },
      'anthropic_beta must be an array of strings.',
    ],
  ])('Bedrock refuses %j', (body, message) => {
    expect(() => bedrockCountTokensRequest(body, 'm')).toThrow(message);
  });

  it('Vertex: the body is already a count_tokens body; the model becomes the catalogue id', () => {
    const body = {
      anthropic_version: 'vertex-2023-10-16',
      model: 'claude-x@20250101',
      messages: [],
      stream: false,
    };
    expect(vertexCountTokensModel(body)).toBe('claude-x@20250101');
    expect(vertexCountTokensRequest(body, 'claude-x-20250101').json).toEqual({
      model: 'claude-x-20250101',
      messages: [],
    });
    expect(() => vertexCountTokensModel({ messages: [] })).toThrow('model is required');
    expect(() => vertexCountTokensModel({ model: ' ' })).toThrow('model is required');
  });
});

describe("Bedrock's non-streaming answers", () => {
  it.each([
    [
      'every count',
      {
        usage: {
          input_tokens: 3,
          output_tokens: 5,
          cache_read_input_tokens: 7,
          cache_creation_input_tokens: 11,
        },
      },
      {
        'x-amzn-bedrock-input-token-count': '3',
        'x-amzn-bedrock-output-token-count': '5',
        'x-amzn-bedrock-cache-read-input-token-count': '7',
        'x-amzn-bedrock-cache-write-input-token-count': '11',
      },
    ],
    [
      'input and output only',
      { usage: { input_tokens: 3, output_tokens: 5 } },
      { 'x-amzn-bedrock-input-token-count': '3', 'x-amzn-bedrock-output-token-count': '5' },
    ],
    ['no usage', { type: 'message' }, {}],
    ['not a count', { usage: { input_tokens: '3', output_tokens: -1 } }, {}],
    ['not an object', null, {}],
  ])('token-count headers: %s', (_name, message, want) => {
    expect(invocationHeaders(message)).toEqual(want);
  });

  it('latency in whole milliseconds', () => {
    expect(invocationHeaders({}, 12.6)).toEqual({ 'x-amzn-bedrock-invocation-latency': '13' });
  });

  it.each([
    [{ input_tokens: 25 }, { inputTokens: 25 }],
    [{ input_tokens: 0 }, { inputTokens: 0 }],
    [{ input_tokens: '25' }, null],
    [{}, null],
  ])('CountTokens answer for %j', (answer, want) => {
    expect(countTokensAnswer(answer)).toEqual(want);
  });
});

describe('SSE → AWS event stream', () => {
  it('encodes the worked example of protocol-facts §2 byte for byte', () => {
    const frame = Buffer.from(chunkFrame('{"type":"message_stop"}'));
    expect(frame.length).toBe(135);
    expect(frame.subarray(0, 12).toString('hex')).toBe('000000870000004b87ea2bf3');
    expect(frame.subarray(131).toString('hex')).toBe('ba48ab22');
  });

  it('turns each complete event into one frame, holding only a partial event', () => {
    const enc = new SseToEventStream();
    const first = enc.push('event: ping\ndata: {"type":"ping"}\n\nevent: message_stop\ndata: {"type":"mes');
    const decoded = codec.decode(first);
    expect(JSON.parse(toUtf8(decoded.body))).toEqual({
      bytes: Buffer.from('{"type":"ping"}').toString('base64'),
    });
    const second = enc.push('sage_stop"}\n\n');
    const stop = JSON.parse(
      Buffer.from(JSON.parse(toUtf8(codec.decode(second).body)).bytes, 'base64').toString(),
    );
    expect(stop).toMatchObject({
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': { inputTokenCount: 0 },
    });
  });

  it.each([
    ['overloaded_error', 'serviceUnavailableException'],
    ['rate_limit_error', 'throttlingException'],
    ['api_error', 'internalServerException'],
  ])('an SSE error event (%s) becomes an %s frame', (type, exception) => {
    const frame = new SseToEventStream().push(
      `event: error\ndata: {"type":"error","error":{"type":"${type}","message":"cut"}}\n\n`,
    );
    const m = codec.decode(frame);
    expect(m.headers[':message-type']?.value).toBe('exception');
    expect(m.headers[':exception-type']?.value).toBe(exception);
    expect(JSON.parse(toUtf8(m.body))).toEqual({ message: 'cut' });
  });
});

describe('error shapes', () => {
  it.each([
    ['ERR_MODEL_DENIED', undefined, 400, 'ValidationException', 'INVALID_ARGUMENT'],
    ['ERR_UNAUTHENTICATED', undefined, 401, 'UnrecognizedClientException', 'UNAUTHENTICATED'],
    ['ERR_FORBIDDEN', undefined, 403, 'AccessDeniedException', 'PERMISSION_DENIED'],
    ['ERR_NOT_FOUND', undefined, 404, 'ResourceNotFoundException', 'NOT_FOUND'],
    [
      'ERR_UPSTREAM_STATUS',
      { status: 429, type: 'rate_limit_error' },
      429,
      'ThrottlingException',
      'RESOURCE_EXHAUSTED',
    ],
    [
      'ERR_UPSTREAM_STATUS',
      { status: 529, type: 'overloaded_error' },
      503,
      'ServiceUnavailableException',
      'UNAVAILABLE',
    ],
    ['ERR_UPSTREAM_AUTH', undefined, 502, 'InternalServerException', 'UNAVAILABLE'],
    ['ERR_INTERNAL', undefined, 500, 'InternalServerException', 'INTERNAL'],
  ] as const)('%s %j → Bedrock %s %s / Google %s', (code, options, status, exception, googleStatus) => {
    const err = new GatewayError(code, 'safe message', options ? { ...options } : {});
    const bedrock = renderBedrockError(err, 'req_1');
    expect(bedrock.status).toBe(status);
    expect(bedrock.headers['x-amzn-errortype']?.split(':')[0]).toBe(exception);
    expect(JSON.parse(bedrock.body)).toEqual({ message: 'safe message' });
    const google = renderGoogleError(err, 'req_1');
    expect(JSON.parse(google.body)).toEqual({
      error: { code: google.status, message: 'safe message', status: googleStatus },
    });
  });
});
