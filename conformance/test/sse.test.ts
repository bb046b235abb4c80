/**
 * The kit's SSE parser (tolerant of CRLF, CR, comments, multi-line data, padding, split chunks) and seeded RNG.
 */
import { describe, expect, it } from 'vitest';
import { createRng, parseSeed } from '../src/util/rng.ts';
import { formatSseEvent, parseSse, SseParser } from '../src/util/sse.ts';

describe('SSE parser', () => {
  it.each([
    ['LF', 'event: a\ndata: {"x":1}\n\n', [{ event: 'a', data: '{"x":1}' }]],
    ['CRLF', 'event: a\r\ndata: 1\r\n\r\n', [{ event: 'a', data: '1' }]],
    ['CR', 'event: a\rdata: 1\r\r', [{ event: 'a', data: '1' }]],
    ['comments and default event name', ': keep-alive\ndata: x\n\n', [{ event: 'message', data: 'x' }]],
    ['multi-line data', 'data: a\ndata: b\n\n', [{ event: 'message', data: 'a\nb' }]],
    [
      'trailing padding kept',
      'event: p\ndata: {"type": "ping"}   \n\n',
      [{ event: 'p', data: '{"type": "ping"}   ' }],
    ],
    ['no space after colon', 'event:a\ndata:1\n\n', [{ event: 'a', data: '1' }]],
    ['an unterminated event is dropped', 'event: a\ndata: 1\n', []],
  ])('%s', (_what, text, want) => {
    expect(parseSse(text)).toEqual(want);
  });

  it('assembles events split across chunks (CRLF split too)', () => {
    const parser = new SseParser();
    const text = 'event: message_start\r\ndata: {"a":1}\r\n\r\nevent: ping\r\ndata: {}\r\n\r\n';
    const events = [...text].flatMap((ch) => parser.push(ch));
    expect(events).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: 'ping', data: '{}' },
    ]);
  });

  it('round-trips what the mocks write', () => {
    expect(parseSse(formatSseEvent('x', { a: 'b\nc' }))).toEqual([{ event: 'x', data: '{"a":"b\\nc"}' }]);
  });
});

describe('seeded RNG', () => {
  it('repeats for a seed and differs across seeds and labels', () => {
    expect(createRng(1).string(20)).toBe(createRng(1).string(20));
    expect(createRng(1).string(20)).not.toBe(createRng(2).string(20));
    expect(createRng(1).fork('a').hex(16)).not.toBe(createRng(1).fork('b').hex(16));
  });
  it.each([
    ['42', 42],
    ['4294967295', 4294967295],
    ['4294967296', undefined],
    ['-1', undefined],
    ['1e3', undefined],
  ])('parseSeed(%s)', (text, want) => {
    expect(parseSeed(text)).toBe(want);
  });
});
