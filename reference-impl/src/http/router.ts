/**
 * Binds handlers to the spec's operations by `operationId`. The route table comes from `listOperations()`, so the
 * gateway serves exactly what `spec/openapi.yaml` declares: boot fails when an operation has no handler or a handler
 * names no operation. Literal paths match exactly; a templated path (`/v1/models/{model_id}`) matches one non-empty
 * segment per parameter, percent-decoded into `params`. Literal paths win over templates, and of two templates that
 * match, the one with more literal characters wins (`…/models/count-tokens:rawPredict` over
 * `…/models/{model}:rawPredict`, as OpenAPI prefers the more concrete path). The query string is ignored for
 * matching.
 */
import type { Operation } from '@ocg/spec';
import { GatewayError } from '../errors.ts';
import type { Handler } from './context.ts';

export type RouteMatch =
  | { kind: 'found'; operation: Operation; handler: Handler; params: Record<string, string> }
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

  type Entry = { operation: Operation; handler: Handler };
  const table = new Map<string, Map<string, Entry>>();
  const templates: Array<{ pattern: RegExp; names: string[]; path: string }> = [];
  for (const operation of operations) {
    if (operation.path.includes('{') && !table.has(operation.path)) {
      const names: string[] = [];
      const source = operation.path
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const m = /^\{([^}]+)\}$/.exec(part);
          if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
          names.push(m[1] as string);
          return '([^/]+)';
        })
        .join('');
      templates.push({ pattern: new RegExp(`^${source}$`), names, path: operation.path });
    }
    const byMethod = table.get(operation.path) ?? new Map();
    const method = operation.method.toUpperCase();
    if (byMethod.has(method)) {
      throw new GatewayError('ERR_UNKNOWN_OPERATION', `two operations for ${method} ${operation.path}`);
    }
    byMethod.set(method, { operation, handler: handlers[operation.operationId] as Handler });
    table.set(operation.path, byMethod);
  }

  // Most concrete first; sort is stable, so equally concrete templates keep the spec's order.
  const literalLength = (path: string) => path.replace(/\{[^}]+\}/g, '').length;
  templates.sort((a, b) => literalLength(b.path) - literalLength(a.path));

  return {
    operations,
    match(method, pathname) {
      let byMethod = table.get(pathname);
      const params: Record<string, string> = {};
      if (!byMethod) {
        for (const t of templates) {
          const m = t.pattern.exec(pathname);
          if (!m) continue;
          try {
            t.names.forEach((name, i) => {
              params[name] = decodeURIComponent(m[i + 1] as string);
            });
          } catch {
            return { kind: 'not-found' };
          }
          byMethod = table.get(t.path);
          break;
        }
      }
      if (!byMethod) return { kind: 'not-found' };
      // HEAD is served by the GET handler (node:http drops the body).
      const entry = byMethod.get(method) ?? (method === 'HEAD' ? byMethod.get('GET') : undefined);
      if (entry) return { kind: 'found', ...entry, params };
      const allow = [...byMethod.keys()];
      if (allow.includes('GET')) allow.push('HEAD');
      return { kind: 'method-not-allowed', allow };
    },
  };
}
