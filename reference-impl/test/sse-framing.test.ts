/**
 * The stream hot path reads every event once: the router frames and reads upstream SSE (routing/events.ts), relay.ts
 * writes the router's whole-event batches as they are (`framed`), and the Bedrock decoder hands the router the events
 * of each upstream chunk, already parsed. These tests pin the framing rules (SSE: an event ends at an empty line,
 * whatever mix of LF, CR LF and CR ends its lines) and that no event is lost or reordered, however chunks fall.
 */
import { describe, expect, it } from 'vitest';
import { chunkFrame } from '../../conformance/src/mocks/bedrock/index.ts';
import { newRequestId } from '../src/http/request-id.ts';
import { silentLogger } from '../src/log/logger.ts';
import { splitEvents } from '../src/routing/events.ts';
import { type BedrockUsage, createEventStreamDecoder } from '../src/upstream/bedrock/eventstream.ts';

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

  it('marks a data that is not a JSON object as malformed, whatever the event', () => {
    const input = Buffer.from(
      'event: content_block_delta\ndata: {bad\n\nevent: message_delta\ndata: [1]\n\nevent: ping\ndata: {}\n\n',
    );
    expect(splitEvents(input).events.map((e) => e.malformed)).toEqual([true, true, false]);
  });

  it('scans a chunk of many events in one pass', () => {
    const one = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n';
    const input = Buffer.from(one.repeat(5000));
    expect(names(input)).toHaveLength(5000);
  });
});

describe('Bedrock decoder, chunk by chunk', () => {
  const ev = (type: string, extra: Record<string, unknown> = {}) => chunkFrame({ type, ...extra });
  const frames = [
    ev('message_start', { message: { id: 'm', usage: { input_tokens: 3, output_tokens: 1 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
  ];
  const delta = (text: string) =>
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
  const end = [
    ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } }),
    ev('message_stop'),
  ];

  // Upstream reads (lists of frames) → the events each push returns, by name: every event the read completed,
  // nothing held for a later read.
  it.each<[string, Uint8Array[][], string[][]]>([
    [
      'the whole answer in one read',
      [[...frames, delta(' there'), ...end]],
      [
        [
          'message_start',
          'content_block_start',
          'content_block_delta',
          'content_block_delta',
          'message_delta',
          'message_stop',
        ],
      ],
    ],
    [
      'opening events in one read, the rest in the next',
      [frames.slice(0, 2), [delta('Hi'), ...end]],
      [
        ['message_start', 'content_block_start'],
        ['content_block_delta', 'message_delta', 'message_stop'],
      ],
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
    [
      'a frame split across two reads',
      [
        [frames[0] as Uint8Array, (frames[1] as Uint8Array).subarray(0, 9)],
        [(frames[1] as Uint8Array).subarray(9)],
      ],
      [['message_start'], ['content_block_start']],
    ],
  ])('%s', (_what, reads, expected) => {
    const usage: BedrockUsage = {};
    const decoder = createEventStreamDecoder(silentLogger, usage);
    const got = reads.map((r) => decoder.push(Buffer.concat(r)));
    expect(got.map((d) => d.error)).toEqual(got.map(() => undefined));
    expect(got.map((d) => d.events.map((e) => e.name))).toEqual(expected);
    expect(got.map((d) => d.end)).toEqual(expected.map((names) => names.at(-1) === 'message_stop'));
    expect(usage.inputTokens).toBe(3);
  });

  it('message_stop ends the stream: what comes after it is not read', () => {
    const decoder = createEventStreamDecoder(silentLogger, {});
    expect(decoder.push(Buffer.concat([...frames, ...end, delta('late')]))).toMatchObject({ end: true });
    expect(decoder.push(Buffer.from(delta('later')))).toEqual({ events: [], end: true });
  });

  it('a corrupt frame in the middle of a chunk: the good frames before it still count, then the stream fails', () => {
    const corrupt = Buffer.from(
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: '!' } }),
    );
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 0xff; // breaks the message CRC
    const decoder = createEventStreamDecoder(silentLogger, {});
    const d = decoder.push(Buffer.concat([...frames, corrupt, ev('message_stop')]));
    expect(d.error).toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
    expect(d.end).toBe(true);
    expect(d.events.map((e) => e.name)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
    ]);
    // Nothing after a broken frame is trusted.
    expect(decoder.push(Buffer.from(ev('message_stop')))).toEqual({ events: [], end: true });
  });

  it('says so when the body ends inside a frame', () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) } as typeof silentLogger;
    const decoder = createEventStreamDecoder(log, {});
    decoder.push(Buffer.from(frames[0] as Uint8Array).subarray(0, 20));
    decoder.finish();
    expect(warnings).toEqual(['bedrock event stream ended inside a frame']);
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
