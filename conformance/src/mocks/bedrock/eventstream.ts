/**
 * AWS event-stream frames as the Bedrock runtime writes them for `invoke-with-response-stream` (protocol-facts §2):
 * `chunk` events whose payload is `{"bytes":"<base64 Anthropic event JSON>","p":"<random padding>"}`, exception
 * frames (`:message-type: exception`) and unmodeled error frames (`:message-type: error`). Encoded with
 * `@smithy/eventstream-codec`, so both CRCs are valid unless a test asks for a corrupt frame.
 */
import { randomInt } from 'node:crypto';
import { EventStreamCodec } from '@smithy/eventstream-codec';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const codec = new EventStreamCodec(
  (input) => decoder.decode(input),
  (input) => encoder.encode(input),
);

const PADDING_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Random-length padding like real Bedrock's `p` field (hides payload sizes; receivers ignore it). */
export function padding(): string {
  return PADDING_ALPHABET.slice(0, randomInt(1, PADDING_ALPHABET.length + 1));
}

const str = (value: string) => ({ type: 'string' as const, value });

/** A `chunk` frame carrying one Anthropic stream event (object → JSON; a string is sent as the raw event bytes). */
export function chunkFrame(event: unknown, withPadding = true): Uint8Array {
  const json = typeof event === 'string' ? event : JSON.stringify(event);
  const payload: Record<string, string> = { bytes: Buffer.from(json, 'utf8').toString('base64') };
  if (withPadding) payload.p = padding();
  return codec.encode({
    headers: {
      ':event-type': str('chunk'),
      ':content-type': str('application/json'),
      ':message-type': str('event'),
    },
    body: encoder.encode(JSON.stringify(payload)),
  });
}

/** A `chunk` frame whose payload is `payload` verbatim (for malformed-chunk cases). */
export function rawChunkFrame(payload: string): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': str('chunk'),
      ':content-type': str('application/json'),
      ':message-type': str('event'),
    },
    body: encoder.encode(payload),
  });
}

/** A modeled exception mid-stream, e.g. `throttlingException` or `modelStreamErrorException`. */
export function exceptionFrame(exceptionType: string, body: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': str(exceptionType),
      ':content-type': str('application/json'),
      ':message-type': str('exception'),
    },
    body: encoder.encode(JSON.stringify(body)),
  });
}

/** An unmodeled error frame (`:error-code` / `:error-message`, empty payload). */
export function errorFrame(code: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':error-code': str(code),
      ':error-message': str(message),
      ':message-type': str('error'),
    },
    body: new Uint8Array(0),
  });
}

/** The same frame with its message CRC flipped: a receiver that checks CRCs must refuse it. */
export function corrupted(frame: Uint8Array): Uint8Array {
  const copy = new Uint8Array(frame);
  const last = copy.length - 1;
  copy[last] = (copy[last] as number) ^ 0xff;
  return copy;
}

/** Decodes one frame (CRC-checked); for tests of the mock itself. */
export function decodeFrame(frame: Uint8Array): {
  headers: Record<string, string>;
  payload: string;
} {
  const message = codec.decode(frame);
  const headers: Record<string, string> = {};
  for (const [name, h] of Object.entries(message.headers)) headers[name] = String(h.value);
  return { headers, payload: decoder.decode(message.body) };
}

/** Splits a byte stream into whole frames by their length prelude. */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 4);
    const total = view.getUint32(0, false);
    if (total < 16 || offset + total > bytes.length) break;
    frames.push(bytes.slice(offset, offset + total));
    offset += total;
  }
  return frames;
}
