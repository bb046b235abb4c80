/**
 * Reading an AWS event stream (`application/vnd.amazon.eventstream`) as a Bedrock client does, for the Bedrock
 * pass-through cases (PASSTHROUGH-5): bytes are cut into frames by their length prelude as they arrive, and each
 * whole frame is decoded by `@smithy/eventstream-codec` — the AWS SDK's own decoder — which checks the prelude CRC
 * and the message CRC and throws on a mismatch.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const codec = new EventStreamCodec(
  (input) => decoder.decode(input),
  (input) => encoder.encode(input),
);

/** The shortest possible frame: prelude (8), prelude CRC (4), message CRC (4). */
const MIN_FRAME = 16;

/** One decoded frame: its headers (values as strings) and its payload. */
export interface EventStreamFrame {
  headers: Record<string, string>;
  payload: Uint8Array;
  /** The payload as UTF-8 text. */
  text: string;
}

/** A frame the codec refused (a CRC or length mismatch), with the codec's message. */
export class EventStreamFrameError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(`frame #${index}: ${message}`);
    this.name = 'EventStreamFrameError';
    this.index = index;
  }
}

/** Incremental frame reader: feed the body's chunks, collect the frames they complete. */
export class EventStreamReader {
  #pending: Buffer = Buffer.alloc(0);
  #count = 0;

  /** How many frames were decoded so far. */
  get count(): number {
    return this.#count;
  }

  /** Bytes received that do not (yet) make a whole frame. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /**
   * Feeds a chunk; returns the frames it completed.
   *
   * @throws EventStreamFrameError when a frame fails its CRCs or announces an impossible length.
   */
  push(chunk: Uint8Array): EventStreamFrame[] {
    this.#pending = this.#pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#pending, chunk]);
    const frames: EventStreamFrame[] = [];
    while (this.#pending.length >= 4) {
      const total = this.#pending.readUInt32BE(0);
      if (total < MIN_FRAME) {
        throw new EventStreamFrameError(this.#count, `announces a length of ${total} bytes (at least 16)`);
      }
      if (this.#pending.length < total) break;
      const bytes = new Uint8Array(this.#pending.subarray(0, total));
      this.#pending = this.#pending.subarray(total);
      let message: ReturnType<EventStreamCodec['decode']>;
      try {
        message = codec.decode(bytes);
      } catch (err) {
        throw new EventStreamFrameError(this.#count, err instanceof Error ? err.message : String(err));
      }
      const headers: Record<string, string> = {};
      for (const [name, h] of Object.entries(message.headers)) headers[name] = String(h.value);
      frames.push({ headers, payload: message.body, text: decoder.decode(message.body) });
      this.#count++;
    }
    return frames;
  }
}
