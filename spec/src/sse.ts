/** One Server-Sent Event parsed from a transcript. */
export interface SseEvent {
  /** The event type (`event:` field), `message` when the event had none. */
  event: string;
  /** The `data:` lines joined with "\n" and parsed as JSON; the raw string when it is not JSON. */
  data: unknown;
  /** The `data:` lines joined with "\n", unparsed. */
  raw: string;
  /** The `id:` field, when present. */
  id?: string;
}

/**
 * Parses an SSE transcript (the text of a `text/event-stream` body) as the WHATWG HTML "event stream interpretation"
 * does: lines end with CRLF, LF or CR; a blank line dispatches the event; lines starting with `:` are comments; one
 * space after the colon is dropped; several `data:` lines are joined with "\n"; an event without data is not
 * dispatched; an unterminated event at the end of the text is discarded. Padding around JSON data is tolerated
 * (JSON.parse ignores it).
 */
export function parseSseTranscript(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let eventType = '';
  let data: string[] = [];
  let lastId: string | undefined;
  const lines = body.split(/\r\n|\r|\n/);
  // The last element is the text after the final line break: an unterminated line, never dispatched.
  const complete = lines.slice(0, -1);
  for (const line of complete) {
    if (line === '') {
      if (data.length > 0) {
        const raw = data.join('\n');
        let parsed: unknown = raw;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = raw;
        }
        const ev: SseEvent = { event: eventType || 'message', data: parsed, raw };
        if (lastId !== undefined) ev.id = lastId;
        events.push(ev);
      }
      eventType = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      default:
        // `retry` and unknown fields are ignored.
        break;
    }
  }
  return events;
}
