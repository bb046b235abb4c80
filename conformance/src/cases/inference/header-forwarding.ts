/**
 * INFERENCE-4 — `anthropic-version`, `anthropic-beta`, content-type, accept, user-agent and `x-stainless-*` reach
 * the upstream byte for byte (odd spacing and empty list items included), and the query string (`?beta=true`) is
 * kept.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, upstreamRequest } from '../support.ts';

const BETAS = [
  'interleaved-thinking-2025-05-14',
  'fine-grained-tool-streaming-2025-05-14',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'prompt-caching-scope-2026-01-05',
  'oauth-2025-04-20',
];

export default defineCase({
  id: 'inference/header-forwarding',
  title: 'Protocol headers and the query string reach the upstream byte for byte',
  feature: 'inference',
  requirements: ['INFERENCE-4'],
  timeoutMs: 15_000,
  async run(ctx) {
    const rng = ctx.rng;
    const picked = [...BETAS].sort(() => rng.next() - 0.5).slice(0, 3);
    // Unusual but legal list formatting: a relay that re-joins or normalizes the list changes the bytes.
    const beta = `${picked[0]},${picked[1]} ,  ${picked[2]},ocg-probe-${rng.hex(8)}`;
    const sent: Array<[string, string]> = [
      ['anthropic-version', '2023-06-01'],
      ['anthropic-beta', beta],
      ['content-type', 'application/json'],
      ['accept', 'application/json'],
      ['user-agent', `claude-cli/2.1.${rng.int(300)} (external, cli) probe/${rng.hex(6)}`],
      ['x-stainless-lang', 'js'],
      ['x-stainless-package-version', `0.${rng.int(90)}.${rng.int(9)}`],
      ['x-stainless-os', 'Linux'],
      ['x-stainless-arch', 'x64'],
      ['x-stainless-runtime', 'node'],
      ['x-stainless-runtime-version', 'v24.21.0'],
      ['x-stainless-retry-count', '0'],
      ['x-stainless-timeout', String(60 + rng.int(600))],
    ];
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages?beta=true',
      headers: sent,
      body: messageBody(rng),
    });
    await res.text();
    expectThat(res.status === 200, `expected status 200, got ${res.status}`);
    const upstream = await upstreamRequest(ctx);
    expectThat(
      upstream.url === '/v1/messages?beta=true',
      `the upstream was called at ${upstream.url}, not /v1/messages?beta=true`,
    );
    const differing = sent.filter(([name, value]) => upstream.headers[name] !== value);
    expectThat(
      differing.length === 0,
      `headers not forwarded byte for byte: ${differing.map(([n]) => n).join(', ')}`,
      {
        sent: Object.fromEntries(differing),
        received: Object.fromEntries(differing.map(([n]) => [n, upstream.headers[n] ?? null])),
      },
    );
  },
});
