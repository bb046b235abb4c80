/**
 * Event-boundary splitting for relayed SSE (INFERENCE-2, INFERENCE-3).
 *
 * Upstream chunks are written to the client as soon as they arrive, cut only at event boundaries: a chunk that ends
 * mid-event is written up to its last complete event and the tail waits for the bytes that complete it. Relaying
 * whole events is what lets the gateway end a broken stream with a well-formed `event: error` — appended to a
 * half-written event, the client's parser would glue the two together. Bytes are never rewritten.
 *
 * The splitter also reads the events it passes (usage counts, `message_stop`, `error`) for the request record.
 */

export interface SseFacts {
  inputTokens?: number;
  outputTokens?: number;
  /** `message_stop` was seen: the stream ended cleanly. */
  stopped: boolean;
  /** `error.type` of an `event: error` the upstream sent itself, if any. */
  upstreamErrorType?: string;
  events: number;
}

/** An event this large without a terminator is flushed as is rather than held (keeps memory bounded). */
const MAX_PENDING = 8 * 1024 * 1024;
const SEPARATORS = [Buffer.from('\n\n'), Buffer.from('\r\n\r\n'), Buffer.from('\r\r')];

export class SseSplitter {
  readonly facts: SseFacts = { stopped: false, events: 0 };
  private pending: Buffer = Buffer.alloc(0);
  private readonly decoder = new TextDecoder();

  /** Returns the bytes that are ready to be written (complete events), possibly empty. */
  push(chunk: Buffer): Buffer {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let end = 0;
    for (const sep of SEPARATORS) {
      const i = data.lastIndexOf(sep);
      if (i >= 0) end = Math.max(end, i + sep.length);
    }
    if (end === 0 && data.length > MAX_PENDING) end = data.length;
    this.pending = end === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(end));
    const ready = end === data.length ? data : data.subarray(0, end);
    if (ready.length > 0) this.inspect(ready);
    return ready;
  }

  /** Bytes of an event the upstream never finished. */
  get incomplete(): number {
    return this.pending.length;
  }

  private inspect(bytes: Buffer): void {
    const text = this.decoder.decode(bytes, { stream: true });
    for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
      if (block.trim() === '') continue;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      this.facts.events++;
      this.observe(event, data.join('\n'));
    }
  }

  private observe(event: string, data: string): void {
    if (event === 'message_stop') {
      this.facts.stopped = true;
      return;
    }
    if (event !== 'message_start' && event !== 'message_delta' && event !== 'error') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const p = parsed as Record<string, unknown>;
    if (event === 'error') {
      const type = (p.error as { type?: unknown } | undefined)?.type;
      this.facts.upstreamErrorType = typeof type === 'string' ? type : 'api_error';
      return;
    }
    const usage = (
      event === 'message_start' ? (p.message as Record<string, unknown> | undefined)?.usage : p.usage
    ) as Record<string, unknown> | undefined;
    if (!usage) return;
    // message_delta usage is cumulative, so the latest value wins.
    if (typeof usage.input_tokens === 'number') this.facts.inputTokens = usage.input_tokens;
    if (typeof usage.output_tokens === 'number') this.facts.outputTokens = usage.output_tokens;
  }
}

/** A well-formed SSE `error` event carrying the Anthropic error envelope. */
export function sseErrorEvent(type: string, message: string, requestId: string): string {
  const data = JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
  return `event: error\ndata: ${data}\n\n`;
}
