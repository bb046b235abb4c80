/**
 * Shared by the Bedrock stream mutants: a stream rewriter for InvokeModelWithResponseStream answers that decodes
 * the gateway's event-stream frames as they pass and hands each whole frame to `rewrite`, whose bytes are sent
 * instead.
 */
import { type EventStreamFrame, EventStreamReader } from '../../src/util/eventstream.ts';
import type { RawHeaders, StreamRewriter } from './proxy.ts';

export const BEDROCK_STREAM_PATH = /^\/model\/[^/]+\/invoke-with-response-stream$/;

function isEventStream(headers: RawHeaders): boolean {
  return headers.some(
    ([n, v]) => n.toLowerCase() === 'content-type' && /^application\/vnd\.amazon\.eventstream/i.test(v),
  );
}

/**
 * A `rewriteStream` hook for the 200 event streams of the Bedrock stream operation: `headers` rewrites the
 * response headers, `frame` turns one decoded frame (and its original bytes) into what is sent, `end` adds bytes
 * at the end.
 */
export function rewriteBedrockFrames(hooks: {
  headers?: (headers: RawHeaders) => RawHeaders;
  frame(frame: EventStreamFrame, bytes: Buffer): Buffer;
  end?: () => Buffer;
}) {
  return (path: string, status: number, headers: RawHeaders): StreamRewriter | undefined => {
    if (!BEDROCK_STREAM_PATH.test(path) || status !== 200 || !isEventStream(headers)) return undefined;
    const reader = new EventStreamReader();
    let pending = Buffer.alloc(0);
    return {
      headers: hooks.headers?.(headers) ?? headers,
      chunk(data) {
        pending = Buffer.concat([pending, data]);
        const out: Buffer[] = [];
        for (;;) {
          if (pending.length < 4) break;
          const total = pending.readUInt32BE(0);
          if (pending.length < total) break;
          const bytes = pending.subarray(0, total);
          pending = pending.subarray(total);
          for (const frame of reader.push(bytes)) out.push(hooks.frame(frame, Buffer.from(bytes)));
        }
        return Buffer.concat(out);
      },
      end: () => hooks.end?.() ?? Buffer.alloc(0),
    };
  };
}
