/**
 * Non-streaming Bedrock answers served by the gateway (PASSTHROUGH-8, PASSTHROUGH-10).
 *
 * The answer is relayed by the same code as `POST /v1/messages` and `/v1/messages/count_tokens`
 * (src/upstream/relay.ts), which reads the whole upstream JSON, records its usage and writes it with one
 * `writeHead` + `end`. {@link bedrockJsonResponse} stands in front of the client's response and, at that `end`,
 * gives the answer Bedrock's shape:
 *
 * - **InvokeModel** (`invoke`): the Anthropic `Message` unchanged, plus the headers Bedrock puts on it —
 *   `x-amzn-bedrock-input-token-count` / `-output-token-count` from `usage.input_tokens` / `usage.output_tokens`,
 *   `x-amzn-bedrock-cache-read-input-token-count` / `-cache-write-input-token-count` from
 *   `usage.cache_read_input_tokens` / `usage.cache_creation_input_tokens` when the usage has them, and
 *   `x-amzn-bedrock-invocation-latency`. Taken from the answer, so they are the same whichever upstream kind
 *   (anthropic, bedrock, vertex) served it.
 * - **CountTokens** (`count-tokens`): the Anthropic `{"input_tokens": N}` becomes Bedrock's `{"inputTokens": N}`.
 *
 * Both also carry `x-amzn-requestid` (the gateway's request id), where the AWS SDK reads `$metadata.requestId`.
 * Error answers never come through here: relay.ts throws them and the pipeline renders them in Bedrock's shape
 * (src/passthrough/errors.ts). A non-JSON answer passes through untouched.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { responseAdapter } from './response-adapter.ts';

export type BedrockJsonAnswer = 'invoke' | 'count-tokens';

const nonNegativeInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** Bedrock's token-count headers for an Anthropic `Message` (only the counts its `usage` has). */
export function invocationHeaders(message: unknown, latencyMs?: number): Record<string, string> {
  const usage = (message as { usage?: Record<string, unknown> } | null)?.usage;
  const out: Record<string, string> = {};
  if (usage !== null && typeof usage === 'object') {
    const pairs: Array<[string, unknown]> = [
      ['x-amzn-bedrock-input-token-count', usage.input_tokens],
      ['x-amzn-bedrock-output-token-count', usage.output_tokens],
      ['x-amzn-bedrock-cache-read-input-token-count', usage.cache_read_input_tokens],
      ['x-amzn-bedrock-cache-write-input-token-count', usage.cache_creation_input_tokens],
    ];
    for (const [name, value] of pairs) if (nonNegativeInt(value)) out[name] = String(value);
  }
  if (latencyMs !== undefined)
    out['x-amzn-bedrock-invocation-latency'] = String(Math.max(0, Math.round(latencyMs)));
  return out;
}

/** Bedrock CountTokens' answer for an Anthropic count_tokens answer, or null when it has no count. */
export function countTokensAnswer(answer: unknown): { inputTokens: number } | null {
  const n = (answer as { input_tokens?: unknown } | null)?.input_tokens;
  return nonNegativeInt(n) ? { inputTokens: n } : null;
}

function isJson(headers: OutgoingHttpHeaders): boolean {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'content-type') return /^application\/json\b/i.test(String(value ?? ''));
  }
  return false;
}

function withoutLength(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'content-length') out[name] = value;
  }
  return out;
}

/**
 * A response for `relayResponse` that writes to `res`, giving a 2xx JSON answer Bedrock's shape (see the module
 * comment). It offers what the relay uses of a `ServerResponse`; the status line and headers are held until the
 * body has been written, so a failure before then is still answered by the pipeline as an error.
 *
 * @param requestId the gateway's request id, sent as `x-amzn-requestid`
 * @param startedAt when the request arrived (ms since the epoch), for `x-amzn-bedrock-invocation-latency`
 */
export function bedrockJsonResponse(
  res: ServerResponse,
  kind: BedrockJsonAnswer,
  requestId: string,
  startedAt: number = Date.now(),
): ServerResponse {
  let held: { status: number; headers: OutgoingHttpHeaders } | null = null;
  const chunks: Buffer[] = [];
  const finish = () => {
    const { status, headers } = held as { status: number; headers: OutgoingHttpHeaders };
    const text = Buffer.concat(chunks).toString('utf8');
    let body = text;
    const extra: Record<string, string> = { 'x-amzn-requestid': requestId };
    if (status >= 200 && status < 300) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        // relayed unchanged, as relay.ts does with an answer it cannot read
      }
      if (kind === 'invoke') {
        Object.assign(extra, invocationHeaders(parsed, Date.now() - startedAt));
      } else {
        const count = countTokensAnswer(parsed);
        if (count !== null) body = JSON.stringify(count);
      }
    }
    const bytes = Buffer.from(body, 'utf8');
    res.writeHead(status, { ...withoutLength(headers), ...extra, 'content-length': bytes.length });
    res.end(bytes);
  };
  return responseAdapter(res, {
    writeHead(status, headers) {
      if (isJson(headers)) held = { status, headers };
      else res.writeHead(status, headers);
    },
    flushHeaders() {
      if (!held) res.flushHeaders();
    },
    write(chunk) {
      if (!held) return res.write(chunk);
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      return true;
    },
    end(chunk) {
      if (!held) {
        if (chunk === undefined) res.end();
        else res.end(chunk);
        return;
      }
      if (chunk !== undefined) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      finish();
    },
  });
}
