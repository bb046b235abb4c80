/**
 * SSE event framing for the router's stream handling: cuts upstream bytes into whole events
 * (each kept byte for byte, terminator included, so what the client gets is exactly what the upstream sent) and
 * reads each event's name and JSON data.
 *
 * This is the only place a relayed SSE stream is parsed (relay.ts writes the router's output as it is; a Bedrock
 * event stream is decoded into the same events by upstream/bedrock/eventstream.ts): it runs for every event of every
 * stream, so it scans the text once, line by line, without regular expressions.
 */

export interface SseEvent {
  /** The raw bytes of the event, blank-line terminator included (a view into the chunk it arrived in). */
  raw: Buffer;
  /** `event:` field, or `message` when absent. */
  name: string;
  /** The parsed `data:` JSON; undefined when the event has no data (comments, keep-alives) or was not parsed. */
  data?: Record<string, unknown>;
  /** `data:` is present but not a JSON object: the event must be dropped (ROUTING-8). */
  malformed: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

const EMPTY = Buffer.alloc(0);

/** Splits off the complete events at the start of `buf`; `rest` is the unfinished tail (a copy). */
export function splitEvents(buf: Buffer): { events: SseEvent[]; rest: Buffer } {
  const events: SseEvent[] = [];
  const n = buf.length;
  let start = 0;
  // Next LF and CR at or after `i`, found once and kept until passed (-1: none left): linear in the chunk size.
  let nextLf = buf.indexOf(LF);
  let nextCr = buf.indexOf(CR);
  // An event ends at an empty line: a line terminator (LF, CR LF or CR) right after another one.
  let i = 0;
  let lineStart = true;
  while (i < n) {
    const b = buf[i] as number;
    if (b !== LF && b !== CR) {
      lineStart = false;
      if (nextLf >= 0 && nextLf < i) nextLf = buf.indexOf(LF, i);
      if (nextCr >= 0 && nextCr < i) nextCr = buf.indexOf(CR, i);
      const at = nextLf < 0 ? nextCr : nextCr < 0 ? nextLf : Math.min(nextLf, nextCr);
      if (at < 0) break;
      i = at;
      continue;
    }
    // A CR ending a non-empty line at the very end may be the first half of a CR LF: wait for the next byte, or
    // the LF would be read as an empty line and end the event early.
    if (b === CR && i + 1 >= n && !lineStart) break;
    i += b === CR && buf[i + 1] === LF ? 2 : 1;
    if (lineStart) {
      const raw = buf.subarray(start, i);
      // Blank lines between events stay in front of the next event, so the bytes relayed are the bytes received
      // (a CR LF split across chunks is read as CR, then a lone LF).
      if (!isBlank(raw)) {
        events.push(parseEvent(raw));
        start = i;
      }
    }
    lineStart = true;
  }
  const rest = start === 0 ? buf : start === n ? EMPTY : Buffer.from(buf.subarray(start));
  return { events, rest };
}

function isBlank(raw: Buffer): boolean {
  for (const b of raw) if (b !== LF && b !== CR && b !== 0x20 && b !== 0x09) return false;
  return true;
}

/** Reads one event's name and data; every `data:` is checked (ROUTING-8: a malformed one must be dropped). */
export function parseEvent(raw: Buffer): SseEvent {
  const text = raw.toString('utf8');
  const n = text.length;
  let name = 'message';
  let data: string | undefined;
  // Lines end in LF almost always: then the native indexOf finds them; a CR anywhere takes the general scan.
  const lfOnly = text.indexOf('\r') === -1;
  let i = 0;
  while (i < n) {
    let j: number;
    if (lfOnly) {
      j = text.indexOf('\n', i);
      if (j === -1) j = n;
    } else {
      for (j = i; j < n; j++) {
        const c = text.charCodeAt(j);
        if (c === LF || c === CR) break;
      }
    }
    if (text.startsWith('event:', i)) name = text.slice(i + 6, j).trim();
    else if (text.startsWith('data:', i)) {
      const from = text.charCodeAt(i + 5) === 0x20 ? i + 6 : i + 5;
      const value = text.slice(from, j);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    i = j < n && text.charCodeAt(j) === CR && text.charCodeAt(j + 1) === LF ? j + 2 : j + 1;
  }
  if (data === undefined) return { raw, name, malformed: false };
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { raw, name, malformed: true };
    return { raw, name, data: parsed as Record<string, unknown>, malformed: false };
  } catch {
    return { raw, name, malformed: true };
  }
}

/** A well-formed SSE `error` event with the Anthropic envelope. */
export function errorEvent(type: string, message: string, requestId?: string): Buffer {
  const data = JSON.stringify({
    type: 'error',
    error: { type, message },
    ...(requestId === undefined ? {} : { request_id: requestId }),
  });
  return Buffer.from(`event: error\ndata: ${data}\n\n`);
}
