/**
 * Mutant: a stream the upstream cut after content is presented as a complete answer — the trailing SSE `error`
 * event is replaced by a synthetic `message_delta` + `message_stop` (ROUTING-7).
 */
import type { BufferedResponse } from './proxy.ts';
import { inFront } from './wrap.ts';

const CLEAN_END =
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},' +
  '"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';

function cleanEnd(res: BufferedResponse): BufferedResponse {
  const sse = res.headers.some(
    ([n, v]) => n.toLowerCase() === 'content-type' && /text\/event-stream/i.test(v),
  );
  if (!sse) return res;
  const text = res.body.toString('utf8');
  const blocks = text.split(/(?<=\n\n)/);
  const last = blocks.at(-1) ?? '';
  if (!/^event: ?error\b/m.test(last)) return res;
  return { ...res, body: Buffer.from(blocks.slice(0, -1).join('') + CLEAN_END) };
}

export default inFront('mutant:presents-cut-stream-as-success', {
  handle: { paths: ['/v1/messages'], handle: async (req, forward) => cleanEnd(await forward(req)) },
});
