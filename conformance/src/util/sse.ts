/**
 * Server-sent events as used by POST /v1/messages (text/event-stream, WHATWG HTML §9.2): a tolerant incremental
 * parser (CRLF / CR / LF line ends, comments, multi-line data, padding) and the serializer the mocks use.
 */

/** One dispatched SSE event: its `event:` name (default "message") and its `data:` lines joined by "\n". */
export interface SseEvent {
  event: string;
  data: string;
}

/** Serializes one event the way the Anthropic API writes it. */
export function formatSseEvent(event: string, data: unknown): string {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  const lines = text.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
  return `event: ${event}\n${lines.join('\n')}\n\n`;
}

/** Incremental SSE parser: feed text chunks, collect events as they complete. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #hasData = false;

  /** Feeds a chunk; returns the events completed by it. */
  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      // A lone trailing CR may be the first half of CRLF: wait for more input.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) out.push(event);
    }
    return out;
  }

  /** Ends the stream; a trailing event without its blank line is dropped, as the SSE spec says. */
  end(): SseEvent[] {
    // A CR held back as a possible CRLF half is a line end after all.
    if (!this.#buffer.endsWith('\r')) return [];
    const line = this.#buffer.slice(0, -1);
    this.#buffer = '';
    const event = this.#line(line);
    return event ? [event] : [];
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      if (!this.#hasData) {
        this.#event = '';
        return undefined;
      }
      const event = { event: this.#event || 'message', data: this.#data.join('\n') };
      this.#event = '';
      this.#data = [];
      this.#hasData = false;
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') {
      this.#data.push(value);
      this.#hasData = true;
    }
    return undefined;
  }
}

/** Parses a complete SSE body. */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

/** Parses an event's data as JSON, tolerating padding; returns the raw string when it is not JSON. */
export function parseEventData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
