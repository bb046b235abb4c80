/**
 * Mutant: refresh-token reuse does not revoke the session (SESSION-14). The proxy refuses a refresh token it has
 * already seen rotated with `401 invalid_grant` itself, so the gateway never learns of the reuse and the session
 * (its newer refresh token and access tokens) lives on — a gateway that checks "is this the current token" but
 * skips reuse detection behaves the same.
 */
import { inFront } from './wrap.ts';

const rotated = new Set<string>();

export default inFront('mutant:ignores-refresh-token-reuse', {
  handle: {
    paths: ['/oauth/token'],
    async handle(req, forward) {
      const form = new URLSearchParams(req.body.toString('utf8'));
      const token = form.get('grant_type') === 'refresh_token' ? form.get('refresh_token') : null;
      if (token && rotated.has(token)) {
        return {
          status: 401,
          headers: [
            ['content-type', 'application/json'],
            ['cache-control', 'no-store'],
            ['request-id', `req_${Math.random().toString(36).slice(2)}mutant`],
          ],
          body: Buffer.from(
            JSON.stringify({ error: 'invalid_grant', error_description: 'refresh token is not valid' }),
          ),
        };
      }
      const res = await forward(req);
      if (token && res.status === 200) rotated.add(token);
      return res;
    },
  },
});
