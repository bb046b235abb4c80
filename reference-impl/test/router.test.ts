import { listOperations, type Operation } from '@ocg/spec';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import type { Handler } from '../src/http/context.ts';
import { createRouter } from '../src/http/router.ts';

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

  it('binds every operation of the real spec with the gateway handlers', async () => {
    const { inferenceHandlers } = await import('../src/handlers/inference.ts');
    const { metaHandlers } = await import('../src/handlers/meta.ts');
    const handlers = {
      ...inferenceHandlers({
        name: 'x',
        kind: 'anthropic',
        send: async () => Promise.reject(new Error()),
        close: async () => {},
      }),
      ...metaHandlers({
        protocolMarkdown: '',
        migrations: [],
        isDraining: () => false,
        store: {
          query: async () => ({ rows: [] }),
          transaction: async (fn) => fn({ query: async () => ({ rows: [] }) }),
          close: async () => {},
        },
      }),
    };
    const router = createRouter(await listOperations(), handlers);
    expect(router.operations.map((o) => o.operationId).sort()).toEqual(Object.keys(handlers).sort());
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
