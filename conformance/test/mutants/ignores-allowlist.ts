/**
 * Mutant: ignores the model allowlist (POLICY-6). The proxy in front asks the gateway, with the client's own
 * credential, whether the requested model is one the user may use (`GET /v1/models/{model}`); when it is not, it
 * sends the request upstream as the user's first allowed model and writes the requested name back into the answer
 * — as a gateway that lists policies correctly but forgot to check them on inference would behave.
 */
import type { BufferedRequest, RawHeaders } from './proxy.ts';
import { inFront } from './wrap.ts';

const CREDENTIALS = new Set(['authorization', 'x-api-key', 'anthropic-version']);

function lookup(req: BufferedRequest, path: string): BufferedRequest {
  const headers: RawHeaders = req.headers.filter(([n]) => CREDENTIALS.has(n.toLowerCase()));
  return { method: 'GET', url: path, headers, body: Buffer.alloc(0) };
}

export default inFront('mutant:ignores-allowlist', {
  handle: {
    paths: ['/v1/messages', '/v1/messages/count_tokens'],
    async handle(req, forward) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return forward(req);
      }
      const requested = body.model;
      if (typeof requested !== 'string' || requested === '') return forward(req);
      const check = await forward(lookup(req, `/v1/models/${encodeURIComponent(requested)}`));
      if (check.status !== 404) return forward(req);
      const list = await forward(lookup(req, '/v1/models?limit=1000'));
      const allowed = (JSON.parse(list.body.toString('utf8')) as { data?: Array<{ id: string }> }).data?.[0]
        ?.id;
      if (allowed === undefined) return forward(req);
      const answer = await forward({
        ...req,
        body: Buffer.from(JSON.stringify({ ...body, model: allowed })),
      });
      try {
        const out = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
        if (out.model === allowed) out.model = requested;
        return { ...answer, body: Buffer.from(JSON.stringify(out)) };
      } catch {
        return answer;
      }
    },
  },
});
