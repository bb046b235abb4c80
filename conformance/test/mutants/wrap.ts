/**
 * Builds mutant adapters around the reference adapter: a proxy in front of the gateway (client ↔ proxy ↔
 * gateway) or between the gateway and the mock upstream (gateway ↔ proxy ↔ mock).
 */
import type { Adapter, GatewayUnderTest } from '../../src/adapters/contract.ts';
import { referenceAdapter } from '../../src/adapters/reference.ts';
import { type ProxyOptions, startProxy } from './proxy.ts';

/** A mutant whose proxy sits in front of the gateway. */
export function inFront(name: string, options: ProxyOptions): Adapter {
  return {
    name,
    async start(ctx): Promise<GatewayUnderTest> {
      const gateway = await referenceAdapter.start(ctx);
      const proxy = await startProxy(gateway.baseUrl, options);
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

/** A mutant whose proxy sits between the gateway and the mock upstream; it may use the client's bearer. */
export function between(name: string, options: (gateway: { bearer: () => string }) => ProxyOptions): Adapter {
  return {
    name,
    async start(ctx): Promise<GatewayUnderTest> {
      let bearer = '';
      const proxy = await startProxy(ctx.mocks.anthropic.url, options({ bearer: () => bearer }));
      const gateway = await referenceAdapter
        .start({ ...ctx, mocks: { anthropic: { ...ctx.mocks.anthropic, url: proxy.url } } })
        .catch(async (err: unknown) => {
          await proxy.close();
          throw err;
        });
      bearer = gateway.bearer;
      return {
        ...gateway,
        async stop() {
          await gateway.stop();
          await proxy.close();
        },
      };
    },
  };
}
