/**
 * Spots the first content event (`content_block_delta`) in a streamed answer, in either wire format the bench sees:
 * Anthropic SSE (the Claude API, Vertex, and every gateway answer) or the AWS event stream Bedrock sends (binary
 * frames whose JSON payload carries the Anthropic event base64-encoded in `bytes`). The gateway holds `message_start`
 * and `ping` back until the first content (ROUTING-6), so time to the first body byte would not compare like with
 * like; time to the first content does.
 */

export type StreamFormat = 'sse' | 'eventstream';

/** Feed chunks in order; `push` returns true once the first content event has been seen (and from then on). */
export interface FirstContentDetector {
  push(chunk: Buffer): boolean;
}

export function firstContentDetector(format: StreamFormat): FirstContentDetector {
  let seen = false;
  if (format === 'sse') {
    // Keep only a tail long enough to hold the marker split across two chunks.
    let tail = '';
    return {
      push(chunk) {
        if (seen) return true;
        const text = tail + chunk.toString('latin1');
        seen = text.includes('content_block_delta');
        tail = text.slice(-32);
        return seen;
      },
    };
  }
  let pending: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      if (seen) return true;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // Frame: total length (4) | headers length (4) | prelude CRC (4) | headers | payload | message CRC (4).
      while (pending.length >= 12) {
        const total = pending.readUInt32BE(0);
        if (total < 16 || pending.length < total) break;
        const headersLength = pending.readUInt32BE(4);
        const payload = pending.subarray(12 + headersLength, total - 4).toString('utf8');
        pending = pending.subarray(total);
        try {
          const bytes = (JSON.parse(payload) as { bytes?: string }).bytes;
          if (bytes && Buffer.from(bytes, 'base64').toString('utf8').includes('"content_block_delta"')) {
            seen = true;
            return true;
          }
        } catch {
          // an exception frame or a payload that is not JSON: not content
        }
      }
      return false;
    },
  };
}
