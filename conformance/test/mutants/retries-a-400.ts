/** Mutant: a 400 answer is retried once — the upstream gets the request twice (ROUTING-3). */
import { inFront } from './wrap.ts';

export default inFront('mutant:retries-a-400', {
  handle: {
    paths: ['/v1/messages'],
    handle: async (req, forward) => {
      const first = await forward(req);
      return first.status === 400 ? forward(req) : first;
    },
  },
});
