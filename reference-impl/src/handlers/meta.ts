/**
 * `getProtocol` (DISCOVERY-1), `getHealth` (DISCOVERY-2) and `getReadiness` (DISCOVERY-3).
 */
import type { components } from '../generated/openapi.ts';
import type { Handler } from '../http/context.ts';
import { type Migration, migrationsApplied } from '../store/migrate.ts';
import type { Store } from '../store/store.ts';

type Health = components['schemas']['Health'];
type Readiness = components['schemas']['Readiness'];
type NotReady = components['schemas']['NotReady'];

const READINESS_TIMEOUT_MS = 2_000;

export interface MetaDeps {
  /** The protocol document, rendered once at boot. */
  protocolMarkdown: string;
  store: Store;
  migrations: Migration[];
  /** True once shutdown has begun: the load balancer should stop sending traffic. */
  isDraining(): boolean;
}

function sendJson(res: import('node:http').ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

async function checkReady(deps: MetaDeps): Promise<string | null> {
  if (deps.isDraining()) return 'shutting down';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('database did not answer in time'), READINESS_TIMEOUT_MS);
  });
  const probe = (async () => {
    try {
      await deps.store.query('SELECT 1');
    } catch {
      return 'database unreachable';
    }
    try {
      return (await migrationsApplied(deps.store, deps.migrations)) ? null : 'migrations not applied';
    } catch {
      return 'cannot read migration state';
    }
  })();
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function metaHandlers(deps: MetaDeps): Record<'getProtocol' | 'getHealth' | 'getReadiness', Handler> {
  const markdown = Buffer.from(deps.protocolMarkdown, 'utf8');
  return {
    async getProtocol({ res }) {
      res.writeHead(200, {
        'content-type': 'text/markdown; charset=utf-8',
        'content-length': markdown.length,
        'cache-control': 'public, max-age=300',
      });
      res.end(markdown);
    },
    async getHealth({ res }) {
      sendJson(res, 200, { status: 'ok' } satisfies Health);
    },
    async getReadiness(ctx) {
      const reason = await checkReady(deps);
      if (reason === null) sendJson(ctx.res, 200, { status: 'ready' } satisfies Readiness);
      else {
        ctx.logger.warn('not ready', { reason });
        sendJson(ctx.res, 503, { status: 'not_ready', reason } satisfies NotReady);
      }
    },
  };
}
