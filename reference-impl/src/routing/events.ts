/**
 * SSE event framing for the router's stream handling: cuts upstream bytes into whole events
 * (each kept byte for byte, terminator included, so what the client gets is exactly what the upstream sent) and
 * reads each event's name and JSON data.
 */

export interface SseEvent {
  /** The raw bytes of the event, blank-line terminator included. */
  raw: Buffer;
  /** `event:` field, or `message` when absent. */
  name: string;
  /** The parsed `data:` JSON; undefined when the event has no data (comments, keep-alives). */
  data?: Record<string, unknown>;
  /** `data:` is present but not a JSON object: the event must be dropped (ROUTING-8). */
  malformed: boolean;
}

const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const CR2 = Buffer.from('\r\r');

const SEPARATORS = [LF2, CRLF2, CR2];

/** Splits off the complete events at the start of `buf`; `rest` is the unfinished tail. */
export function splitEvents(buf: Buffer): { events: SseEvent[]; rest: Buffer } {
  const events: SseEvent[] = [];
  // Next match of each separator at or after `start`, found once and kept until passed (-1: none left), so a chunk
  // of many events is scanned in linear time.
  const next = SEPARATORS.map((sep) => buf.indexOf(sep));
  let start = 0;
  for (;;) {
    let end = -1;
    for (let k = 0; k < SEPARATORS.length; k++) {
      const sep = SEPARATORS[k] as Buffer;
      let at = next[k] as number;
      if (at >= 0 && at < start) {
        at = buf.indexOf(sep, start);
        next[k] = at;
      }
      if (at >= 0 && (end < 0 || at + sep.length < end)) end = at + sep.length;
    }
    if (end < 0) break;
    const raw = buf.subarray(start, end);
    start = end;
    if (isBlank(raw)) continue;
    events.push(parseEvent(Buffer.from(raw)));
  }
  return { events, rest: start === 0 ? buf : Buffer.from(buf.subarray(start)) };
}

function isBlank(raw: Buffer): boolean {
  for (const b of raw) if (b !== 0x0a && b !== 0x0d && b !== 0x20 && b !== 0x09) return false;
  return true;
}

export function parseEvent(raw: Buffer): SseEvent {
  let name = 'message';
  const data: string[] = [];
  for (const line of raw.toString('utf8').split(/\r\n|\n|\r/)) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (data.length === 0) return { raw, name, malformed: false };
  try {
    const parsed: unknown = JSON.parse(data.join('\n'));
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
