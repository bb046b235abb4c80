/**
 * ERRORS-5 (MAY) — a body sent with `transfer-encoding: chunked` and no `content-length` MAY be refused with 411
 * (`invalid_request_error`). Both behaviours conform: refusing with 411 (and no upstream call), or relaying the
 * request normally. The case records which one the gateway chose.
 */
import { fail } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import {
  expectEqual,
  expectError,
  expectNoUpstreamCall,
  messageBody,
  upstreamJson,
  upstreamRequest,
} from '../support.ts';

export default defineCase({
  id: 'errors/chunked-body',
  title: 'A chunked body without content-length is refused with 411 or relayed',
  feature: 'inference',
  requirements: ['ERRORS-5'],
  timeoutMs: 15_000,
  async run(ctx) {
    const body = messageBody(ctx.rng);
    const res = await ctx.client.send({
      operationId: 'createMessage',
      path: '/v1/messages',
      body,
      chunked: 3,
    });
    if (res.status === 411) {
      await expectError(res, 411, ['invalid_request_error'], 'a chunked body refused');
      expectNoUpstreamCall(ctx, 'a refused chunked body');
      ctx.note('the gateway refuses chunked bodies without content-length (411)');
      return;
    }
    if (res.status === 200) {
      await res.text();
      expectEqual(upstreamJson(await upstreamRequest(ctx)), body, 'the body the upstream received');
      ctx.note('the gateway accepts chunked bodies without content-length');
      return;
    }
    const text = await res.text();
    fail(`a chunked body must be relayed (200) or refused with 411, got ${res.status}`, {
      body: text.slice(0, 1000),
    });
  },
});
