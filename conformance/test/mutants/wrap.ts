/**
 * Builds mutant adapters around the reference adapter: a proxy in front of the gateway (client ↔ proxy ↔
 * gateway) or between the gateway and the mock upstream (gateway ↔ proxy ↔ mock).
 *
 * A proxy in front is the gateway's public URL, as a reverse proxy would be: the gateway is configured with it as
 * its issuer, so discovery, the verification page and the IdP redirect URI all name the proxy.
 */
import type { Adapter, GatewayUnderTest } from '../../src/adapters/contract.ts';
import { createReferenceAdapter, type ReferenceAdapterOptions } from '../../src/adapters/reference.ts';
import { type ProxyOptions, type RawHeaders, startProxy } from './proxy.ts';

/** Starts the reference gateway behind a proxy with `options`; the proxy's URL is the gateway's public URL. */
async function behindProxy(
  start: Parameters<Adapter['start']>[0],
  options: ProxyOptions,
  reference: ReferenceAdapterOptions = {},
) {
  // The target is set as soon as the gateway listens (before its readiness check goes through the proxy).
  const proxy = await startProxy('http://127.0.0.1:9', options);
  try {
    const gateway = await createReferenceAdapter({
      ...reference,
      publicBaseUrl: proxy.url,
      onListening: (url) => {
        proxy.target = url;
      },
    }).start(start);
    return { proxy, gateway };
  } catch (err) {
    await proxy.close();
    throw err;
  }
}

/** A mutant whose proxy sits in front of the gateway. */
export function inFront(name: string, options: ProxyOptions): Adapter {
  return {
    name,
    async start(ctx): Promise<GatewayUnderTest> {
      const { proxy, gateway } = await behindProxy(ctx, options);
      return {
        ...gateway,
        baseUrl: proxy.url,
        async stop() {
          await proxy.close();
          await gateway.stop();
        },
      };
    },
  };
}

/** The bearer a client sent (`authorization: Bearer …` or `x-api-key`), if any. */
export function clientBearer(headers: RawHeaders): string | undefined {
  for (const [n, v] of headers) {
    const name = n.toLowerCase();
    if (name === 'authorization') {
      const m = /^Bearer\s+(.+)$/i.exec(v);
      if (m?.[1]) return m[1];
    }
    if (name === 'x-api-key' && v) return v;
  }
  return undefined;
}

/** The request headers with the client's bearer (`authorization: Bearer …` and `x-api-key`) replaced by `token`. */
export function withClientBearer(headers: RawHeaders, token: string): RawHeaders {
  return headers.map(([n, v]): [string, string] => {
    const name = n.toLowerCase();
    if (name === 'authorization') return [n, `Bearer ${token}`];
    if (name === 'x-api-key') return [n, token];
    return [n, v];
  });
}

/** One part of a JWT (0: header, 1: payload) as JSON, or undefined when `token` is not a JWT with that part. */
export function jwtPart(token: string, index: 0 | 1): Record<string, unknown> | undefined {
  const part = token.includes('.') ? token.split('.')[index] : undefined;
  if (!part) return undefined;
  try {
    const json: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A mutant whose proxy sits between the gateway and the mock upstream; it may use the bearer the client last sent
 * on a bearer endpoint (a transparent recording proxy in front of the gateway sees it).
 */
export function between(name: string, options: (gateway: { bearer: () => string }) => ProxyOptions): Adapter {
  return {
    name,
    async start(ctx): Promise<GatewayUnderTest> {
      let bearer = '';
      const back = await startProxy(ctx.mocks.anthropic.url, options({ bearer: () => bearer }));
      const front = await behindProxy(
        { ...ctx, mocks: { ...ctx.mocks, anthropic: { ...ctx.mocks.anthropic, url: back.url } } },
        {
          requestHeaders: (headers) => {
            bearer = clientBearer(headers) ?? bearer;
            return headers;
          },
        },
      ).catch(async (err: unknown) => {
        await back.close();
        throw err;
      });
      return {
        ...front.gateway,
        baseUrl: front.proxy.url,
        async stop() {
          await front.proxy.close();
          await front.gateway.stop();
          await back.close();
        },
      };
    },
  };
}
