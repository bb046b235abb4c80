/**
 * DISCOVERY-1 — `GET /protocol` answers the protocol as Markdown, without credentials.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';

export default defineCase({
  id: 'discovery/protocol-document',
  title: 'GET /protocol answers Markdown without credentials',
  feature: 'protocol-document',
  requirements: ['DISCOVERY-1'],
  timeoutMs: 15_000,
  async run(ctx) {
    const res = await ctx.client.send({ operationId: 'getProtocol', path: '/protocol', bearer: null });
    const text = await res.text();
    expectThat(res.status === 200, `expected status 200 without credentials, got ${res.status}`);
    expectThat(
      /^text\/markdown\b/i.test(res.contentType ?? ''),
      `expected content-type text/markdown, got ${res.contentType}`,
    );
    expectThat(text.trim().length > 0, 'the protocol document is empty');
    expectThat(text.includes('/v1/messages'), 'the protocol document does not mention /v1/messages');
  },
});
