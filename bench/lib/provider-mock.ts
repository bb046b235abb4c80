#!/usr/bin/env node
/**
 * One of the conformance kit's provider mocks (Anthropic, Bedrock or Vertex) served in its own process for
 * `bench/providers.ts`, so that the mock does not share an event loop with the client or the proxies it measures.
 * The kit's mocks are the faithful ones (Bedrock: SigV4 verified, CRC-valid event-stream frames), which is what the
 * gateway's provider code has to do work against. They stream their canned answer with no artificial delay.
 *
 *   OCG_BENCH_UPSTREAM_KEY=… OCG_BENCH_AWS_KEY_ID=… OCG_BENCH_AWS_SECRET=… OCG_BENCH_BEDROCK_API_KEY=… \
 *   OCG_BENCH_VERTEX_TOKEN=… node bench/lib/provider-mock.ts --kind anthropic|bedrock|vertex
 *
 * Prints one JSON line `{"url": …, "kind": …}` once listening; exits on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startMockAnthropic } from '../../conformance/src/mocks/anthropic/index.ts';
import { startMockBedrock } from '../../conformance/src/mocks/bedrock/index.ts';
import { startMockVertex } from '../../conformance/src/mocks/vertex/index.ts';

const { values } = parseArgs({ options: { kind: { type: 'string' } } });
const env = (name: string): string => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
};

let mock: { url: string; reset(): void; close(): Promise<void> };
switch (values.kind) {
  case 'anthropic':
    mock = await startMockAnthropic({ apiKey: env('OCG_BENCH_UPSTREAM_KEY') });
    break;
  case 'bedrock':
    mock = await startMockBedrock({
      region: 'us-east-1',
      credentials: { accessKeyId: env('OCG_BENCH_AWS_KEY_ID'), secretAccessKey: env('OCG_BENCH_AWS_SECRET') },
      apiKey: env('OCG_BENCH_BEDROCK_API_KEY'),
    });
    break;
  case 'vertex':
    mock = await startMockVertex({ accessToken: env('OCG_BENCH_VERTEX_TOKEN') });
    break;
  default:
    console.error('usage: node bench/lib/provider-mock.ts --kind anthropic|bedrock|vertex');
    process.exit(2);
}
// The mocks record every exchange for their tests; a benchmark sends tens of thousands: forget them every second.
setInterval(() => mock.reset(), 1000).unref();
process.stdout.write(`${JSON.stringify({ url: mock.url, kind: values.kind })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void mock.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
