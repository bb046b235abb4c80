/**
 * Client addresses for the kit's browsers. Every person signing in has their own machine, so every browser a case
 * opens connects from its own loopback address (127.x.y.z: on Linux the whole 127.0.0.0/8 reaches a gateway on
 * 127.0.0.1). A gateway that limits verification-page attempts per client address (SESSION-7) then sees one
 * address per user, as in real life, and the kit's dozens of sign-ins do not add up against one address.
 *
 * Where the system does not route 127.0.0.0/8 (macOS without `ifconfig lo0 alias`), or the gateway is not on
 * loopback, browsers use the default address.
 */
import { connect } from 'node:net';
import type { Rng } from '../util/rng.ts';

export interface AddressPool {
  /** True when browsers get addresses of their own. */
  readonly enabled: boolean;
  /** A loopback address no earlier browser of this run used, or undefined when the pool is disabled. */
  next(): string | undefined;
}

function canConnectFrom(localAddress: string, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Probes whether connections from 127.0.0.0/8 aliases reach the gateway at `baseUrl`. */
export async function createAddressPool(baseUrl: string, rng: Rng): Promise<AddressPool> {
  const url = new URL(baseUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const loopback = url.hostname === 'localhost' || url.hostname.startsWith('127.');
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  const used = new Set<string>(['127.0.0.1']);
  const draw = (): string => {
    for (;;) {
      const a = `127.${1 + rng.int(254)}.${rng.int(256)}.${1 + rng.int(254)}`;
      if (!used.has(a)) {
        used.add(a);
        return a;
      }
    }
  };
  const enabled = loopback && (await canConnectFrom(draw(), host, port));
  return { enabled, next: () => (enabled ? draw() : undefined) };
}
