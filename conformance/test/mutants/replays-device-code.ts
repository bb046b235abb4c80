/**
 * Mutant: a device code works more than once (SESSION-2, SESSION-4). The proxy remembers the token endpoint's
 * successful answer to a device code and gives it again to every later poll with that code, instead of the
 * gateway's `invalid_grant`.
 */
import type { BufferedResponse } from './proxy.ts';
import { inFront } from './wrap.ts';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const answered = new Map<string, BufferedResponse>();

export default inFront('mutant:replays-device-code', {
  handle: {
    paths: ['/oauth/token'],
    async handle(req, forward) {
      const form = new URLSearchParams(req.body.toString('utf8'));
      const code = form.get('grant_type') === DEVICE_CODE_GRANT ? form.get('device_code') : null;
      const earlier = code ? answered.get(code) : undefined;
      if (earlier) return earlier;
      const res = await forward(req);
      if (code && res.status === 200) answered.set(code, res);
      return res;
    },
  },
});
