/**
 * Mutant: answers Bedrock InvokeModel errors found after the body was accepted — a model the policy refuses, an
 * unknown model, an upstream error — in the Anthropic envelope (PASSTHROUGH-6), as a gateway whose pass-through
 * handler checks the Bedrock body itself but lets the Messages path render everything after it. Errors about the
 * body and the credential stay in Bedrock's shape.
 */
import type { BufferedResponse, RawHeaders } from './proxy.ts';
import { inFront } from './wrap.ts';

const INVOKE_PATH = /^\/model\/[^/]+\/invoke$/;

const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

/** A body the Bedrock surface accepts (PASSTHROUGH-1): the mutant's handler checked it "correctly". */
function isBedrockBody(raw: Buffer): boolean {
  try {
    const b = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    return (
      typeof b === 'object' &&
      b !== null &&
      !Array.isArray(b) &&
      typeof b.anthropic_version === 'string' &&
      (b.anthropic_beta === undefined ||
        (Array.isArray(b.anthropic_beta) && b.anthropic_beta.every((x) => typeof x === 'string'))) &&
      Array.isArray(b.messages) &&
      Number.isInteger(b.max_tokens)
    );
  } catch {
    return false;
  }
}

function anthropicEnvelope(res: BufferedResponse): BufferedResponse {
  let message = 'error';
  try {
    message = (JSON.parse(res.body.toString('utf8')) as { message?: string }).message ?? message;
  } catch {
    // keep the default
  }
  const requestId = res.headers.find(([n]) => n.toLowerCase() === 'request-id')?.[1] ?? 'req_mutant';
  const type = TYPES[res.status] ?? (res.status >= 500 ? 'api_error' : 'invalid_request_error');
  const headers: RawHeaders = res.headers.filter(
    ([n]) => !['x-amzn-errortype', 'x-amzn-requestid', 'content-type'].includes(n.toLowerCase()),
  );
  headers.push(['content-type', 'application/json']);
  const body = { type: 'error', error: { type, message }, request_id: requestId };
  return { ...res, headers, body: Buffer.from(JSON.stringify(body)) };
}

export default inFront('mutant:anthropic-errors-on-bedrock', {
  handle: {
    paths: (path) => INVOKE_PATH.test(path),
    async handle(req, forward) {
      const res = await forward(req);
      if (res.status < 400 || res.status === 401 || !isBedrockBody(req.body)) return res;
      return anthropicEnvelope(res);
    },
  },
});
