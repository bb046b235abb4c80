/**
 * Mutant: computes the managed-settings checksum and ETag over the settings as written, without sorting the keys
 * (POLICY-2). The proxy in front hides `If-None-Match` from the gateway, rewrites `checksum` and `ETag` of every
 * 200 to its own (still consistent with each other, so POLICY-1 holds) and answers 304 only when the client sends
 * that tag — which a client computing the documented checksum never does for settings not written in key order.
 */
import { createHash } from 'node:crypto';
import { inFront } from './wrap.ts';

const opaque = (tag: string) => tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

export default inFront('mutant:wrong-etag', {
  handle: {
    paths: ['/managed/settings'],
    async handle(req, forward) {
      const sent = req.headers.find(([n]) => n.toLowerCase() === 'if-none-match')?.[1];
      const answer = await forward({
        ...req,
        headers: req.headers.filter(([n]) => n.toLowerCase() !== 'if-none-match'),
      });
      if (answer.status !== 200) return answer;
      const body = JSON.parse(answer.body.toString('utf8')) as { checksum: string; settings: unknown };
      const checksum = `sha256:${createHash('sha256').update(JSON.stringify(body.settings)).digest('hex')}`;
      const headers = answer.headers.map(([n, v]): [string, string] =>
        n.toLowerCase() === 'etag' ? [n, `"${checksum}"`] : [n, v],
      );
      if (sent?.split(',').some((t) => opaque(t) === checksum)) {
        return {
          status: 304,
          headers: headers.filter(([n]) => !['content-type'].includes(n.toLowerCase())),
          body: Buffer.alloc(0),
        };
      }
      return { ...answer, headers, body: Buffer.from(JSON.stringify({ ...body, checksum })) };
    },
  },
});
