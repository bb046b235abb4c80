/**
 * ERRORS-4 — a body larger than the gateway's limit (which is at least 1 MiB) is `413 request_too_large`, and
 * the upstream is not called. A body of exactly the limit is accepted, which shows the declared limit is the
 * real one.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { drain, expectError, expectNoUpstreamCall } from '../support.ts';

const MIN_LIMIT = 1024 * 1024;

/** A valid Messages body of exactly `size` bytes (padding in the user message). */
export function bodyOfSize(size: number): Buffer {
  const head = '{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"';
  const tail = '"}]}';
  const pad = size - head.length - tail.length;
  if (pad < 0) throw new Error(`cannot build a body of ${size} bytes`);
  return Buffer.from(head + 'x'.repeat(pad) + tail);
}

export default defineCase({
  id: 'errors/body-too-large',
  title: 'Bodies over the limit are refused with 413 before any upstream call',
  feature: 'inference',
  requirements: ['ERRORS-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    const limit = ctx.gateway.maxRequestBodyBytes;
    expectThat(limit >= MIN_LIMIT, `the gateway's body limit (${limit} bytes) is below the 1 MiB minimum`);
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      body: bodyOfSize(limit + 1),
    });
    await expectError(res, 413, ['request_too_large'], `a body of ${limit + 1} bytes (limit ${limit})`);
    expectNoUpstreamCall(ctx, 'a body over the limit');

    const atLimit = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      body: bodyOfSize(limit),
    });
    await drain(atLimit);
    expectThat(
      atLimit.status === 200,
      `a body of exactly the declared limit (${limit} bytes) was answered ${atLimit.status}, not relayed`,
    );
  },
});
