/** Graceful shutdown: in-flight streams finish within the grace period; past it they are cut with an error event. */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  JSON_HEADERS,
  SSE_EVENTS,
  send,
  startTestGateway,
  startUpstream,
  type TestUpstream,
  VALID_BODY,
} from './helpers.ts';

const STREAM_BODY = JSON.stringify({ ...JSON.parse(VALID_BODY), stream: true });

let upstream: TestUpstream | undefined;
afterEach(async () => {
  await upstream?.close();
});

/** Starts a streamed request and resolves once its first event arrived; `done` resolves with the whole body. */
function startStream(url: string): Promise<{ done: Promise<string> }> {
  return new Promise((resolveStarted, reject) => {
    const req = request(
      `${url}/v1/messages`,
      { method: 'POST', headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(STREAM_BODY) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        const done = new Promise<string>((resolveDone) => {
          res.on('end', () => resolveDone(text));
          res.on('close', () => resolveDone(text));
        });
        res.on('data', (c: string) => {
          const first = text === '';
          text += c;
          if (first) resolveStarted({ done });
        });
      },
    );
    req.on('error', reject);
    req.end(STREAM_BODY);
  });
}

describe('graceful shutdown', () => {
  it('lets an in-flight stream finish, refuses new connections, then closes', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Content first: until then the gateway holds the opening events back (ROUTING-6).
      res.write(SSE_EVENTS.slice(0, 4).join(''));
      await released;
      res.end(SSE_EVENTS.slice(4).join(''));
    });
    const { gateway } = await startTestGateway({ upstreamUrl: upstream.url, shutdownGraceMs: 5000 });
    const stream = await startStream(gateway.url);
    const closed = gateway.close();
    await new Promise((r) => setTimeout(r, 100));
    await expect(send(`${gateway.url}/healthz`)).rejects.toThrow(); // no longer accepting
    release();
    expect(await stream.done).toBe(SSE_EVENTS.join(''));
    await closed;
  });

  it('past the grace period, cuts the stream with an SSE error event and closes', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(SSE_EVENTS.slice(0, 4).join('')); // and never more
    });
    const { gateway } = await startTestGateway({ upstreamUrl: upstream.url, shutdownGraceMs: 200 });
    const stream = await startStream(gateway.url);
    const t0 = Date.now();
    await gateway.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    const body = await stream.done;
    expect(body.startsWith(SSE_EVENTS.slice(0, 4).join(''))).toBe(true);
    expect(body).toContain(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"The gateway is shutting down',
    );
  });
});
