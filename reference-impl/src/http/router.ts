/**
 * Binds handlers to the spec's operations by `operationId`. The route table comes from `listOperations()`, so the
 * gateway serves exactly what `spec/openapi.yaml` declares: boot fails when an operation has no handler or a handler
 * names no operation. Paths match exactly (no templates in this version); the query string is ignored for matching.
 */
import type { Operation } from '@ocg/spec';
import { GatewayError } from '../errors.ts';
import type { Handler } from './context.ts';

export type RouteMatch =
  | { kind: 'found'; operation: Operation; handler: Handler }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

export interface Router {
  match(method: string, pathname: string): RouteMatch;
  readonly operations: readonly Operation[];
}

/** @throws GatewayError `ERR_UNBOUND_OPERATION` / `ERR_UNKNOWN_OPERATION` when operations and handlers disagree. */
export function createRouter(
  operations: readonly Operation[],
  handlers: Readonly<Record<string, Handler>>,
): Router {
  const ids = new Set(operations.map((o) => o.operationId));
  const unbound = operations.filter((o) => !Object.hasOwn(handlers, o.operationId)).map((o) => o.operationId);
  if (unbound.length > 0) {
    throw new GatewayError(
      'ERR_UNBOUND_OPERATION',
      `operations without a handler: ${unbound.join(', ')} (every operation in spec/openapi.yaml needs one)`,
    );
  }
  const unknown = Object.keys(handlers).filter((id) => !ids.has(id));
  if (unknown.length > 0) {
    throw new GatewayError(
      'ERR_UNKNOWN_OPERATION',
      `handlers for operations the spec does not declare: ${unknown.join(', ')}`,
    );
  }

  const table = new Map<string, Map<string, { operation: Operation; handler: Handler }>>();
  for (const operation of operations) {
    const byMethod = table.get(operation.path) ?? new Map();
    const method = operation.method.toUpperCase();
    if (byMethod.has(method)) {
      throw new GatewayError('ERR_UNKNOWN_OPERATION', `two operations for ${method} ${operation.path}`);
    }
    byMethod.set(method, { operation, handler: handlers[operation.operationId] as Handler });
    table.set(operation.path, byMethod);
  }

  return {
    operations,
    match(method, pathname) {
      const byMethod = table.get(pathname);
      if (!byMethod) return { kind: 'not-found' };
      // HEAD is served by the GET handler (node:http drops the body).
      const entry = byMethod.get(method) ?? (method === 'HEAD' ? byMethod.get('GET') : undefined);
      if (entry) return { kind: 'found', ...entry };
      const allow = [...byMethod.keys()];
      if (allow.includes('GET')) allow.push('HEAD');
      return { kind: 'method-not-allowed', allow };
    },
  };
}
