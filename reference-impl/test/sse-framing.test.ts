/**
 * The stream hot path reads every event once: the router frames and reads upstream SSE (routing/events.ts), relay.ts
 * writes the router's whole-event batches as they are (`framed`), and the Bedrock transcoder hands the router one
 * buffer per upstream chunk. These tests pin the framing rules (SSE: an event ends at an empty line, whatever mix of
 * LF, CR LF and CR ends its lines) and that batching never loses or reorders an event.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkFrame } from '../../conformance/src/mocks/bedrock/index.ts';
import { newRequestId } from '../src/http/request-id.ts';
import { silentLogger } from '../src/log/logger.ts';
import { splitEvents } from '../src/routing/events.ts';
import { type BedrockUsage, transcodeEventStream } from '../src/upstream/bedrock/eventstream.ts';

const names = (buf: Buffer) => splitEvents(buf).events.map((e) => e.name);

describe('splitEvents framing', () => {
  it.each([
    ['LF', 'event: a\ndata: {}\n\nevent: b\ndata: {}\n\n', ['a', 'b'], ''],
    ['CR LF', 'event: a\r\ndata: {}\r\n\r\nevent: b\r\ndata: {}\r\n\r\n', ['a', 'b'], ''],
    ['CR', 'event: a\rdata: {}\r\revent: b\rdata: {}\r\r', ['a', 'b'], ''],
    ['mixed line ends', 'event: a\r\ndata: {}\n\r\nevent: b\ndata: {}\r\r', ['a', 'b'], ''],
    ['leading blank lines', '\n\n\r\nevent: a\ndata: {}\n\n', ['a'], ''],
    ['an unfinished tail', 'event: a\ndata: {}\n\nevent: b\ndata: {"x"', ['a'], 'event: b\ndata: {"x"'],
    // A CR ending a non-empty line at the end may be half of CR LF: the event is not over yet.
    ['a trailing CR that may be half of CR LF', 'event: a\r\ndata: {}\r', [], 'event: a\r\ndata: {}\r'],
    ['a trailing CR ending the empty line', 'event: a\r\ndata: {}\r\n\r', ['a'], ''],
  ])('%s', (_label, input, expected, rest) => {
    const out = splitEvents(Buffer.from(input));
    expect(out.events.map((e) => e.name)).toEqual(expected);
    expect(out.rest.toString()).toBe(rest);
  });

  it('keeps every event byte for byte, terminators included', () => {
    const input = 'event: a\r\ndata: {"x":1}\r\n\r\n: comment\n\nevent: b\rdata: {"y":2}\r\r';
    const { events } = splitEvents(Buffer.from(input));
    expect(Buffer.concat(events.map((e) => e.raw)).toString()).toBe(input);
    expect(events.map((e) => [e.name, e.data])).toEqual([
      ['a', { x: 1 }],
      ['message', undefined],
      ['b', { y: 2 }],
    ]);
  });

  it('joins multi-line data and reads a data line without the optional space', () => {
    const { events } = splitEvents(Buffer.from('event: a\ndata:{"x":\ndata: 1}\n\n'));
    expect(events[0]?.data).toEqual({ x: 1 });
  });

  it('every split point of a chunk gives the same events', () => {
    const input = Buffer.from(
      'event: a\r\ndata: {"x":1}\r\n\r\nevent: b\ndata: {"y":2}\n\nevent: c\rdata: {}\r\r',
    );
    for (let cut = 0; cut <= input.length; cut++) {
      const first = splitEvents(input.subarray(0, cut));
      const second = splitEvents(Buffer.concat([first.rest, input.subarray(cut)]));
      const all = [...first.events, ...second.events];
      expect(
        all.map((e) => e.name),
        `cut at ${cut}`,
      ).toEqual(['a', 'b', 'c']);
      expect(Buffer.concat(all.map((e) => e.raw)).equals(input), `cut at ${cut}`).toBe(true);
    }
  });

  it('marks a non-object data as malformed; "needed" mode reads only the events the router uses', () => {
    const input = Buffer.from(
      'event: content_block_delta\ndata: {bad\n\nevent: message_delta\ndata: [1]\n\n',
    );
    expect(splitEvents(input).events.map((e) => e.malformed)).toEqual([true, true]);
    const needed = splitEvents(input, 'needed').events;
    expect(needed.map((e) => e.malformed)).toEqual([false, true]);
    expect(needed[0]?.data).toBeUndefined();
  });

  it('scans a chunk of many events in one pass', () => {
    const one = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n';
    const input = Buffer.from(one.repeat(5000));
    expect(names(input)).toHaveLength(5000);
  });
});

describe('Bedrock transcoder batching', () => {
  const ev = (type: string, extra: Record<string, unknown> = {}) => chunkFrame({ type, ...extra });
  const frames = [
    ev('message_start', { message: { id: 'm', usage: { input_tokens: 3, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
  ];

  async function chunksOf(body: Readable): Promise<{ chunks: string[]; error?: unknown }> {
    const chunks: string[] = [];
    try {
      for await (const c of body) chunks.push((c as Buffer).toString('utf8'));
      return { chunks };
    } catch (error) {
      return { chunks, error };
    }
  }

  const delta = (text: string) =>
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
  const end = [
    ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }),
    ev('message_stop'),
  ];

  // Upstream reads (lists of frames) → the output chunks, by the event names in each: one chunk per read, except that
  // the first content event closes a chunk of its own.
  it.each<[string, Uint8Array[][], string[][]]>([
    [
      'the whole answer in one read: opening events and first content, then the rest',
      [[...frames, delta(' there'), ...end]],
      [
        ['message_start', 'content_block_start', 'content_block_delta'],
        ['content_block_delta', 'message_delta', 'message_stop'],
      ],
    ],
    [
      'opening events in one read, the rest in the next',
      [frames.slice(0, 2), [delta('Hi'), ...end]],
      [['message_start', 'content_block_start'], ['content_block_delta'], ['message_delta', 'message_stop']],
    ],
    [
      'a frame per read',
      [...frames, ...end].map((f) => [f]),
      [
        ['message_start'],
        ['content_block_start'],
        ['content_block_delta'],
        ['message_delta'],
        ['message_stop'],
      ],
    ],
  ])('%s', async (_what, reads, expected) => {
    const usage: BedrockUsage = {};
    const upstream = Readable.from(reads.map((r) => Buffer.concat(r)));
    const { chunks, error } = await chunksOf(transcodeEventStream(upstream, silentLogger, usage));
    expect(error).toBeUndefined();
    expect(chunks.map((c) => splitEvents(Buffer.from(c)).events.map((e) => e.name))).toEqual(expected);
    expect(usage).toMatchObject({ inputTokens: 3, outputTokens: 7 });
  });

  it('the first content reaches the reader before the rest of its read is decoded', async () => {
    const usage: BedrockUsage = {};
    const upstream = Readable.from([Buffer.concat([...frames, delta(' there'), ...end])]);
    const seen: Array<number | undefined> = [];
    for await (const _ of transcodeEventStream(upstream, silentLogger, usage)) seen.push(usage.outputTokens);
    // message_start's count when the first chunk arrived; message_delta's was decoded only afterwards.
    expect(seen).toEqual([1, 7]);
  });

  it('a corrupt frame in the middle of a chunk: the good frames before it still go out, then the stream fails', async () => {
    const corrupt = Buffer.from(
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: '!' } }),
    );
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff; // breaks the message CRC
    const upstream = Readable.from([Buffer.concat([...frames, corrupt, ev('message_stop')])]);
    const { chunks, error } = await chunksOf(transcodeEventStream(upstream, silentLogger, {}));
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
    expect(splitEvents(Buffer.from(chunks.join(''))).events.map((e) => e.name)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
    ]);
  });
});

describe('request ids from the pooled random bytes', () => {
  it('are well-formed, 24 base62 characters, and unique across many pool refills', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newRequestId());
    expect(ids.size).toBe(20_000);
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    // Every character of the alphabet turns up (a biased or stuck pool would not).
    const seen = new Set([...[...ids].join('').replaceAll('req_', '')]);
    expect(seen.size).toBe(62);
  });
});
