import { listOperations, type Operation } from '@ocg/spec';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { startGateway } from '../src/gateway.ts';
import type { Handler } from '../src/http/context.ts';
import { createRouter } from '../src/http/router.ts';
import { captureLogger, send, startUpstream, testConfig } from './helpers.ts';

const noop: Handler = async () => {};
const ops: Operation[] = [
  {
    operationId: 'createMessage',
    method: 'post',
    path: '/v1/messages',
    feature: 'inference',
    requirements: [],
    security: 'bearer',
  },
  {
    operationId: 'getHealth',
    method: 'get',
    path: '/healthz',
    feature: 'health',
    requirements: [],
    security: 'none',
  },
];

function bindingError(operations: Operation[], handlers: Record<string, Handler>): GatewayError {
  try {
    createRouter(operations, handlers);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a binding error');
}

describe('createRouter: binding operations to handlers', () => {
  it('fails when an operation has no handler', () => {
    const err = bindingError(ops, { createMessage: noop });
    expect(err.code).toBe('ERR_UNBOUND_OPERATION');
    expect(err.message).toContain('getHealth');
  });

  it('fails when a handler has no operation', () => {
    const err = bindingError(ops, { createMessage: noop, getHealth: noop, listModels: noop });
    expect(err.code).toBe('ERR_UNKNOWN_OPERATION');
    expect(err.message).toContain('listModels');
  });

  it('binds every operation of the real spec: a gateway boots, and no operation answers "no route"', async () => {
    const upstream = await startUpstream();
    const gateway = await startGateway(testConfig({ upstreamUrl: upstream.url }), {
      logger: captureLogger().logger,
    });
    try {
      for (const op of await listOperations()) {
        const path = op.path.replace(/\{[^}]+\}/g, 'x');
        const r = await send(`${gateway.url}${path}`, { method: op.method.toUpperCase() });
        expect(r.body, `${op.method} ${op.path}`).not.toContain('No route for');
        expect(r.status, `${op.method} ${op.path}`).not.toBe(405);
      }
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});

describe('createRouter: matching', () => {
  const router = createRouter(ops, { createMessage: noop, getHealth: noop });
  const cases: Array<[method: string, path: string, want: string]> = [
    ['POST', '/v1/messages', 'found:createMessage'],
    ['GET', '/healthz', 'found:getHealth'],
    ['HEAD', '/healthz', 'found:getHealth'],
    ['GET', '/v1/messages', 'method-not-allowed:POST'],
    ['DELETE', '/healthz', 'method-not-allowed:GET, HEAD'],
    ['POST', '/v1/messages/', 'not-found'],
    ['POST', '/V1/messages', 'not-found'],
    ['GET', '/', 'not-found'],
  ];
  it.each(cases)('%s %s → %s', (method, path, want) => {
    const m = router.match(method, path);
    const got =
      m.kind === 'found'
        ? `found:${m.operation.operationId}`
        : m.kind === 'method-not-allowed'
          ? `method-not-allowed:${m.allow.join(', ')}`
          : 'not-found';
    expect(got).toBe(want);
  });
});

describe('createRouter: path templates', () => {
  const templated: Operation[] = [
    {
      operationId: 'listModels',
      method: 'get',
      path: '/v1/models',
      feature: 'models',
      requirements: [],
      security: 'bearer',
    },
    {
      operationId: 'getModel',
      method: 'get',
      path: '/v1/models/{model_id}',
      feature: 'models',
      requirements: [],
      security: 'bearer',
    },
    {
      operationId: 'revokeSession',
      method: 'post',
      path: '/v1/admin/sessions/{session_id}/revoke',
      feature: 'admin',
      requirements: [],
      security: 'admin',
    },
  ];
  const router = createRouter(templated, { listModels: noop, getModel: noop, revokeSession: noop });
  const table: Array<
    [string, { method: string; path: string; want: string; params?: Record<string, string> }]
  > = [
    ['a literal path wins', { method: 'GET', path: '/v1/models', want: 'listModels', params: {} }],
    [
      'one parameter',
      {
        method: 'GET',
        path: '/v1/models/claude-sonnet-4-5',
        want: 'getModel',
        params: { model_id: 'claude-sonnet-4-5' },
      },
    ],
    [
      'percent-decoded',
      { method: 'GET', path: '/v1/models/a%40b', want: 'getModel', params: { model_id: 'a@b' } },
    ],
    [
      'a parameter mid-path',
      {
        method: 'POST',
        path: '/v1/admin/sessions/ses_1/revoke',
        want: 'revokeSession',
        params: { session_id: 'ses_1' },
      },
    ],
    ['an empty segment does not match', { method: 'GET', path: '/v1/models/', want: 'not-found' }],
    ['two segments do not match one parameter', { method: 'GET', path: '/v1/models/a/b', want: 'not-found' }],
    [
      'broken percent-encoding is not found',
      { method: 'GET', path: '/v1/models/%E0%A4%A', want: 'not-found' },
    ],
    ['wrong method on a template', { method: 'DELETE', path: '/v1/models/x', want: 'method-not-allowed' }],
  ];
  it.each(table)('%s', (_name, t) => {
    const m = router.match(t.method, t.path);
    if (m.kind === 'found') {
      expect(m.operation.operationId).toBe(t.want);
      expect(m.params).toEqual(t.params);
    } else {
      expect(m.kind).toBe(t.want);
    }
  });
});

describe('createRouter: overlapping templates', () => {
  const base = '/v1/projects/{project}/locations/{location}/publishers/anthropic/models';
  const op = (operationId: string, path: string): Operation => ({
    operationId,
    method: 'post',
    path,
    feature: 'vertex-passthrough',
    requirements: [],
    security: 'bearer',
  });
  it.each([
    [
      'the spec order',
      [
        op('vertexRawPredict', `${base}/{model}:rawPredict`),
        op('vertexCountTokens', `${base}/count-tokens:rawPredict`),
      ],
    ],
    [
      'the reverse order',
      [
        op('vertexCountTokens', `${base}/count-tokens:rawPredict`),
        op('vertexRawPredict', `${base}/{model}:rawPredict`),
      ],
    ],
  ])('the more concrete template wins whatever %s', (_name, operations) => {
    const router = createRouter(operations, { vertexRawPredict: noop, vertexCountTokens: noop });
    const prefix = '/v1/projects/p/locations/global/publishers/anthropic/models';
    const count = router.match('POST', `${prefix}/count-tokens:rawPredict`);
    expect(count.kind === 'found' && count.operation.operationId).toBe('vertexCountTokens');
    expect(count.kind === 'found' && count.params).toEqual({ project: 'p', location: 'global' });
    const predict = router.match('POST', `${prefix}/claude-sonnet-4-5@20250929:rawPredict`);
    expect(predict.kind === 'found' && predict.operation.operationId).toBe('vertexRawPredict');
    expect(predict.kind === 'found' && predict.params.model).toBe('claude-sonnet-4-5@20250929');
  });
});
