/**
 * Shared pieces of the cases: request bodies, the expectations several cases make (an error envelope, an
 * untouched upstream), and value comparison with readable diffs.
 */
import { isDeepStrictEqual } from 'node:util';
import { expectThat, fail } from '../errors.ts';
import type { RecordedRequest } from '../mocks/anthropic/index.ts';
import type { GatewayResponse } from '../runner/client.ts';
import type { CaseContext } from '../runner/types.ts';
import type { Rng } from '../util/rng.ts';

export const REQUEST_ID_PATTERN = /^req_[A-Za-z0-9]+$/;

/** A small valid Messages request body with seeded content. */
export function messageBody(rng: Rng, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: rng.pick(['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5']),
    max_tokens: 64 + rng.int(512),
    messages: [{ role: 'user', content: `conformance probe ${rng.string(12)}: say hello` }],
    ...extra,
  };
}

/** Reads a fixture when the repository ships it, else uses `fallback` (the kit also runs from an install). */
export async function fixtureOr<T>(ctx: CaseContext, path: string, fallback: () => T): Promise<T> {
  try {
    return await ctx.fixture<T>(path);
  } catch {
    return fallback();
  }
}

/** The mock upstream must not have seen any Messages request. */
export function expectNoUpstreamCall(ctx: CaseContext, why: string): void {
  const seen = ctx.mocks.anthropic.requests;
  expectThat(
    seen.length === 0,
    `${why}: the upstream must not be called, but it received ${seen.map((r) => `${r.method} ${r.url}`).join(', ')}`,
  );
}

/** Waits for the upstream request a case triggered (fails the case when none arrives). */
export async function upstreamRequest(
  ctx: CaseContext,
  pathPrefix = '/v1/messages',
): Promise<RecordedRequest> {
  try {
    return await ctx.mocks.anthropic.waitForRequest((r) => r.url.startsWith(pathPrefix), 5000);
  } catch {
    return fail(`the gateway did not call the upstream (${pathPrefix}) within 5 s`);
  }
}

export interface ErrorEnvelope {
  type: 'error';
  error: { type: string; message: string };
  request_id: string;
}

/** Reads an error response and checks status, envelope shape and error type (`null`: any type). */
export async function expectError(
  res: GatewayResponse,
  status: number | ((s: number) => boolean),
  types: string[] | null,
  what: string,
): Promise<ErrorEnvelope> {
  const text = await res.text();
  const statusOk = typeof status === 'number' ? res.status === status : status(res.status);
  expectThat(
    statusOk,
    `${what}: expected status ${typeof status === 'number' ? status : 'per the requirement'}, got ${res.status}`,
    {
      body: text.slice(0, 2000),
    },
  );
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(`${what}: the error body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const env = body as Partial<ErrorEnvelope>;
  expectThat(
    typeof env === 'object' &&
      env !== null &&
      env.type === 'error' &&
      typeof env.error === 'object' &&
      env.error !== null,
    `${what}: the body is not the Anthropic error envelope {"type":"error","error":{…}}`,
    { body },
  );
  expectThat(
    types === null
      ? typeof env.error?.type === 'string' && env.error.type !== ''
      : types.includes(String(env.error?.type)),
    `${what}: expected error.type ${types === null ? 'a string' : types.join(' or ')}, got ${JSON.stringify(env.error?.type)}`,
    { body },
  );
  return env as ErrorEnvelope;
}

/** Fails with a diff-friendly message unless the values are deeply equal. */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(`${what}: values differ`, { expected, actual });
  }
}

/** Every header line of a recorded upstream request whose value contains `needle`. */
export function headersContaining(request: RecordedRequest, needle: string): string[] {
  return request.rawHeaders.filter(([, v]) => v.includes(needle)).map(([n]) => n.toLowerCase());
}

/** Parses the recorded request body as JSON (fails the case when it is not). */
export function upstreamJson(request: RecordedRequest): unknown {
  try {
    return JSON.parse(request.body);
  } catch {
    return fail(
      `the upstream received a body that is not JSON: ${JSON.stringify(request.body.slice(0, 200))}`,
    );
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * When an access token issued as `tokens` is past every tolerance (epoch ms): its expiry, the gateway's clock skew
 * and 1.5 s of margin for the two clocks and the request in flight.
 */
export function accessTokenExpiredAt(ctx: CaseContext, tokens: { readonly expiresAt: number }): number {
  return tokens.expiresAt + ctx.gateway.clockToleranceS * 1000 + 1500;
}

/** Reads a response to its end (events for a stream, text otherwise); returns the event names of a stream. */
export async function drain(res: GatewayResponse): Promise<string[]> {
  if (/^text\/event-stream\b/i.test(res.contentType ?? '')) {
    const names: string[] = [];
    for await (const ev of res.events()) names.push(ev.event);
    return names;
  }
  await res.text();
  return [];
}
