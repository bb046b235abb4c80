/**
 * ERRORS-6 — when the upstream cannot be reached (here: it resets every connection before sending a header), the
 * client gets a 5xx `api_error` or a `529 overloaded_error` envelope — never a 401, which Claude Code would take for
 * an expired sign-in.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectError, messageBody } from '../support.ts';

export default defineCase({
  id: 'errors/upstream-unreachable',
  title: 'An unreachable upstream gives a 5xx api_error or 529 overloaded_error, never 401',
  feature: 'inference',
  requirements: ['ERRORS-6'],
  timeoutMs: 60_000,
  async run(ctx) {
    for (const stream of [false, true]) {
      ctx.mocks.anthropic.reset();
      // Enough resets for any retry policy: the upstream stays unreachable for this request.
      ctx.mocks.anthropic.enqueue({ cutAfter: 0, times: 50 });
      const res = await ctx.client.send({
        operationId: 'createMessage',
        path: '/v1/messages',
        body: messageBody(ctx.rng, { stream }),
      });
      expectThat(res.status !== 401, `an unreachable upstream was answered 401 (stream: ${stream})`);
      const env = await expectError(
        res,
        (s) => s >= 500 && s <= 599,
        ['api_error', 'overloaded_error'],
        `unreachable upstream (stream: ${stream})`,
      );
      expectThat(
        env.error.type === 'api_error' || res.status === 529,
        `overloaded_error must come with status 529, got ${res.status} (stream: ${stream})`,
      );
      expectThat(ctx.mocks.anthropic.requests.length > 0, 'the gateway never tried the upstream');
    }
  },
});
