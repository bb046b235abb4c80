/**
 * ROUTING-11 — an upstream's error message (which names account ids, ARNs, project ids) never reaches the client
 * verbatim: a final 400 and a failure of every target each carry a recognisable detail, and the client's error
 * message contains neither.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { ensureFirstTargetServes, PERSISTENT, routed, sendRouted, within } from './support.ts';

function upstreamError(type: string, detail: string): Record<string, unknown> {
  return {
    type: 'error',
    error: { type, message: `${detail} is not permitted` },
    request_id: 'req_01upstream',
  };
}

export default defineCase({
  id: 'routing/upstream-message-hidden',
  title: "An upstream's error message is not shown to the client verbatim",
  feature: 'routing',
  requirements: ['ROUTING-11'],
  timeoutMs: 30_000,
  async run(ctx) {
    const r = routed(ctx);
    await ensureFirstTargetServes(ctx, r);
    const detail = `arn:aws:iam::${100000000000 + ctx.rng.int(899999999)}:role/ocg-${ctx.rng.string(8)}`;
    const scenarios = [
      { name: 'the first target answers 400', a: 400, b: undefined, aType: 'invalid_request_error' },
      { name: 'both targets answer 503', a: 503, b: 503, aType: 'api_error' },
    ];
    for (const s of scenarios) {
      await ensureFirstTargetServes(ctx, r);
      r.a.enqueue({ status: s.a, body: upstreamError(s.aType, detail), times: PERSISTENT });
      if (s.b) r.b.enqueue({ status: s.b, body: upstreamError('api_error', detail), times: PERSISTENT });
      const res = await within(15_000, s.name, sendRouted(ctx, r, false));
      const text = await res.text();
      expectThat(res.status >= 400, `${s.name}: expected an error, got ${res.status}`);
      expectThat(
        !text.includes(detail) && !text.includes('is not permitted'),
        `${s.name}: the client's error repeats the upstream's message`,
        { body: text.slice(0, 1000) },
      );
    }
  },
});
