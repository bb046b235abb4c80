/**
 * Mutant: writes Bedrock event-stream frames whose message CRC is wrong (PASSTHROUGH-5) — as a home-made encoder
 * that computes the CRC over the wrong bytes would. Every frame's last byte is flipped as it passes; lengths,
 * headers and payloads are left as they are.
 */
import { rewriteBedrockFrames } from './eventstream-rewrite.ts';
import { inFront } from './wrap.ts';

export default inFront('mutant:corrupts-eventstream-crc', {
  rewriteStream: rewriteBedrockFrames({
    frame(_frame, bytes) {
      const out = Buffer.from(bytes);
      out[out.length - 1] = (out[out.length - 1] as number) ^ 0x5a;
      return out;
    },
  }),
});
