/**
 * Mutant: when no target is left after upstream credential failures, the client gets 401 authentication_error
 * (Claude Code would sign its user out) instead of a 5xx api_error (ROUTING-10).
 */
import { inFront } from './wrap.ts';

export default inFront('mutant:passes-upstream-401', {
  handle: {
    paths: ['/v1/messages'],
    handle: async (req, forward) => {
      const res = await forward(req);
      if (res.status < 500) return res;
      let body = res.body;
      try {
        const env = JSON.parse(res.body.toString('utf8')) as { error?: { type?: string; message?: string } };
        if (env.error) {
          env.error = { type: 'authentication_error', message: 'invalid x-api-key' };
          body = Buffer.from(JSON.stringify(env));
        }
      } catch {
        // not JSON: status only
      }
      return { ...res, status: 401, body };
    },
  },
});
