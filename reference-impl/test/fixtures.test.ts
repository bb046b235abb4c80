/**
 * The shared language-neutral vectors of fixtures/, run through the gateway: request bodies are accepted or refused
 * exactly as the vectors say (ERRORS-3), and every SSE transcript reaches the client as the same events
 * (INFERENCE-2), byte for byte when the stream ends cleanly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseSseTranscript } from '@ocg/spec';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.ts';
import {
  defaultUpstreamHandler,
  JSON_HEADERS,
  send,
  startTestGateway,
  startUpstream,
  type TestUpstream,
  VALID_BODY,
} from './helpers.ts';

const dir = new URL('../../fixtures/', import.meta.url);
const load = (sub: string) =>
  readdirSync(new URL(sub, dir))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(new URL(`${sub}${f}`, dir), 'utf8')));

interface BodyCase {
  name: string;
  operationId: 'createMessage' | 'countMessageTokens';
  body: unknown;
  valid: boolean;
  errors?: string[];
}
interface SseCase {
  name: string;
  transcript: string;
  events: Array<{ event: string; data: unknown }>;
  valid: boolean;
}

const bodies: Array<[string, BodyCase]> = load('messages/').flatMap((f: { cases: BodyCase[] }) =>
  f.cases.map((c) => [`${c.operationId}: ${c.name}`, c] as [string, BodyCase]),
);
const transcripts: Array<[string, SseCase]> = load('sse/').flatMap((f: { cases: SseCase[] }) =>
  f.cases.filter((c) => c.valid).map((c) => [c.name, c] as [string, SseCase]),
);
const PATHS = { createMessage: '/v1/messages', countMessageTokens: '/v1/messages/count_tokens' };

let upstream: TestUpstream;
let gateway: Gateway;
beforeAll(async () => {
  upstream = await startUpstream();
  ({ gateway } = await startTestGateway({ upstreamUrl: upstream.url }));
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});
afterEach(() => {
  upstream.handler = defaultUpstreamHandler;
  upstream.requests.length = 0;
});

describe('request-body vectors', () => {
  it('exist', () => expect(bodies.length).toBeGreaterThan(5));

  it.each(bodies)('%s', async (_name, c) => {
    const raw = JSON.stringify(c.body);
    const r = await send(`${gateway.url}${PATHS[c.operationId]}`, { headers: JSON_HEADERS, body: raw });
    if (c.valid) {
      expect(r.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      // The validated bytes are forwarded as they came, never re-serialised.
      expect(upstream.requests[0]?.body.toString('utf8')).toBe(raw);
    } else {
      expect(r.status).toBe(400);
      const envelope = JSON.parse(r.body) as { error: { type: string; message: string } };
      expect(envelope.error.type).toBe('invalid_request_error');
      for (const message of c.errors ?? []) expect(envelope.error.message).toContain(message);
      expect(upstream.requests).toHaveLength(0);
    }
  });
});

describe('SSE transcript vectors', () => {
  it('exist', () => expect(transcripts.length).toBeGreaterThan(3));

  it.each(transcripts)('%s', async (_name, c) => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      res.end(c.transcript);
    };
    const body = JSON.stringify({ ...JSON.parse(VALID_BODY), stream: true });
    const r = await send(`${gateway.url}/v1/messages`, { headers: JSON_HEADERS, body });
    expect(r.status).toBe(200);
    const received = parseSseTranscript(r.body).map(({ event, data }) => ({ event, data }));
    const last = c.events.at(-1)?.event;
    if (last === 'message_stop' || last === 'error') {
      expect(received).toEqual(c.events);
      if (c.transcript.endsWith('\n\n')) expect(r.body).toBe(c.transcript);
    } else {
      // An upstream stream that ends without message_stop is a truncated answer: the client must be told.
      expect(received.slice(0, c.events.length)).toEqual(c.events);
      expect(received.at(-1)?.event).toBe('error');
    }
  });
});
