/**
 * Mutant: answers Bedrock InvokeModelWithResponseStream with the Anthropic SSE stream, as a gateway that relays
 * its Messages answer unchanged on the Bedrock operation (PASSTHROUGH-5). Each frame the gateway writes is turned
 * back into the SSE event it came from, as it passes.
 */
import { rewriteBedrockFrames } from './eventstream-rewrite.ts';
import { inFront } from './wrap.ts';

export default inFront('mutant:bedrock-stream-as-sse', {
  rewriteStream: rewriteBedrockFrames({
    headers: (headers) => [
      ...headers.filter(([n]) => !['content-type', 'x-amzn-bedrock-content-type'].includes(n.toLowerCase())),
      ['content-type', 'text/event-stream; charset=utf-8'],
    ],
    frame(frame) {
      if (frame.headers[':message-type'] === 'exception') {
        const message = (JSON.parse(frame.text) as { message?: string }).message ?? 'stream failed';
        const error = { type: 'error', error: { type: 'api_error', message } };
        return Buffer.from(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
      }
      const { bytes } = JSON.parse(frame.text) as { bytes: string };
      const json = Buffer.from(bytes, 'base64').toString('utf8');
      const type = (JSON.parse(json) as { type: string }).type;
      return Buffer.from(`event: ${type}\ndata: ${json}\n\n`);
    },
  }),
});
