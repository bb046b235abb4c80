/**
 * INFERENCE-6 — hop-by-hop headers (connection, keep-alive, te, trailer, proxy-*, …) and any header named in
 * `Connection` cross the gateway in neither direction; content-length is recomputed, not copied.
 * (The request side sends no `trailer` header: HTTP/1.1 clients only send one with a chunked body.)
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { messageBody, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'inference/hop-by-hop-headers',
  title: 'Hop-by-hop headers are not forwarded in either direction',
  feature: 'inference',
  requirements: ['INFERENCE-6'],
  timeoutMs: 15_000,
  async run(ctx) {
    const tag = ctx.rng.hex(10);
    const upstreamKeepAlive = `timeout=77, max=${900 + ctx.rng.int(99)}`;
    ctx.mocks.anthropic.enqueue({
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': tag,
        'keep-alive': upstreamKeepAlive,
        'proxy-authenticate': `Basic realm="upstream-${tag}"`,
        trailer: 'x-upstream-trailer',
      },
    });
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      headers: [
        ['connection', 'keep-alive, x-drop-me'],
        ['x-drop-me', tag],
        ['keep-alive', 'timeout=5'],
        ['te', 'trailers'],
        ['proxy-authorization', `Basic ${Buffer.from(`user:${tag}`).toString('base64')}`],
      ],
      body: messageBody(ctx.rng),
    });
    const text = await res.text();
    expectThat(res.status === 200, `expected status 200, got ${res.status}`);

    const upstream = await upstreamRequest(ctx);
    const forwarded = ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization'].filter(
      (name) => name in upstream.headers,
    );
    const connectionToUpstream = (upstream.headers.connection ?? '').toLowerCase();
    if (/\bx-drop-me\b/.test(connectionToUpstream)) forwarded.push('connection (still listing x-drop-me)');
    expectThat(
      forwarded.length === 0,
      `hop-by-hop request headers reached the upstream: ${forwarded.join(', ')}`,
      {
        upstreamHeaders: upstream.headers,
      },
    );

    const relayed: string[] = [];
    if ('x-hop' in res.headers) relayed.push('x-hop (named in the upstream Connection header)');
    if ('proxy-authenticate' in res.headers) relayed.push('proxy-authenticate');
    if ((res.headers.trailer ?? '').includes('x-upstream-trailer')) relayed.push('trailer');
    if (res.headers['keep-alive'] === upstreamKeepAlive) relayed.push("keep-alive (the upstream's value)");
    if (/\bx-hop\b/i.test(res.headers.connection ?? '')) relayed.push('connection (still listing x-hop)');
    expectThat(
      relayed.length === 0,
      `hop-by-hop response headers reached the client: ${relayed.join(', ')}`,
      {
        clientHeaders: res.headers,
      },
    );
    const length = res.headers['content-length'];
    expectThat(
      length === undefined || Number(length) === Buffer.byteLength(text),
      `content-length ${length} does not match the ${Buffer.byteLength(text)} bytes relayed`,
    );
  },
});
