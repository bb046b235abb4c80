/**
 * Mutant: answers Vertex rawPredict errors — count-tokens:rawPredict included — in the Anthropic envelope instead of
 * Google's (PASSTHROUGH-7, PASSTHROUGH-9), as a gateway that serves the Vertex paths with its Messages handler
 * unchanged would.
 */
import type { RawHeaders } from './proxy.ts';
import { inFront } from './wrap.ts';

const RAW_PREDICT =
  /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/[^/]+:rawPredict$/;

const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

export default inFront('mutant:vertex-errors-in-anthropic-envelope', {
  handle: {
    paths: (path) => RAW_PREDICT.test(path),
    async handle(req, forward) {
      const res = await forward(req);
      if (res.status < 400) return res;
      let message = 'error';
      try {
        message =
          (JSON.parse(res.body.toString('utf8')) as { error?: { message?: string } }).error?.message ??
          message;
      } catch {
        // keep the default
      }
      const type = TYPES[res.status] ?? (res.status >= 500 ? 'api_error' : 'invalid_request_error');
      const requestId = res.headers.find(([n]) => /^(x-)?request-id$/i.test(n))?.[1] ?? 'req_mutant';
      const headers: RawHeaders = [
        ...res.headers.filter(([n]) => n.toLowerCase() !== 'content-type'),
        ['content-type', 'application/json'],
      ];
      const body = { type: 'error', error: { type, message }, request_id: requestId };
      return { ...res, headers, body: Buffer.from(JSON.stringify(body)) };
    },
  },
});
