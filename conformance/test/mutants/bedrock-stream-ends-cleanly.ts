/**
 * Mutant: a Bedrock stream that failed after it started ends as if complete (PASSTHROUGH-5) — the exception frame
 * is replaced by `message_delta` + `message_stop` chunk frames, so a Bedrock client takes a truncated answer for a
 * whole one.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { rewriteBedrockFrames } from './eventstream-rewrite.ts';
import { inFront } from './wrap.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const codec = new EventStreamCodec(
  (input) => decoder.decode(input),
  (input) => encoder.encode(input),
);
const str = (value: string) => ({ type: 'string' as const, value });

function chunk(event: Record<string, unknown>): Buffer {
  const body = JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString('base64') });
  return Buffer.from(
    codec.encode({
      headers: {
        ':event-type': str('chunk'),
        ':content-type': str('application/json'),
        ':message-type': str('event'),
      },
      body: encoder.encode(body),
    }),
  );
}

export default inFront('mutant:bedrock-stream-ends-cleanly', {
  rewriteStream: rewriteBedrockFrames({
    frame(frame, bytes) {
      if (frame.headers[':message-type'] !== 'exception') return bytes;
      return Buffer.concat([
        chunk({
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 1 },
        }),
        chunk({ type: 'message_stop' }),
      ]);
    },
  }),
});
