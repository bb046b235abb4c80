/**
 * Mutant: answers Bedrock CountTokens with the Anthropic `{"input_tokens": N}` instead of Bedrock's
 * `{"inputTokens": N}` (PASSTHROUGH-8), as a gateway that serves the path with its count_tokens handler and
 * converts only the request.
 */
import { inFront } from './wrap.ts';

const COUNT_TOKENS = /^\/model\/[^/]+\/count-tokens$/;

export default inFront('mutant:bedrock-count-in-anthropic-shape', {
  handle: {
    paths: (path) => COUNT_TOKENS.test(path),
    async handle(req, forward) {
      const res = await forward(req);
      if (res.status !== 200) return res;
      let count: unknown;
      try {
        count = (JSON.parse(res.body.toString('utf8')) as { inputTokens?: unknown }).inputTokens;
      } catch {
        return res;
      }
      if (typeof count !== 'number') return res;
      return { ...res, body: Buffer.from(JSON.stringify({ input_tokens: count })) };
    },
  },
});
