/**
 * PASSTHROUGH-9 (PASSTHROUGH-2, PASSTHROUGH-3, PASSTHROUGH-7) — the Vertex token count on the gateway,
 * `…/publishers/anthropic/models/count-tokens:rawPredict` with the model in the body as a Vertex id
 * (`claude-sonnet-4-5@20250929`), as `@anthropic-ai/vertex-sdk` `messages.countTokens` sends it. It is served as
 * `POST /v1/messages/count_tokens`, never as a model named `count-tokens`: the upstream receives the Anthropic
 * count_tokens body (the catalogue model; `anthropic_version` gone; the rest, betas in `anthropic-beta`, as the
 * client sent them) and the client receives the upstream's `{"input_tokens": N}` unchanged. No credential is
 * `401 UNAUTHENTICATED`; a body without `model` or `anthropic_version`, a body that is not an object, a model the
 * caller's policy refuses: `400 INVALID_ARGUMENT`; a model that maps to nothing `400 INVALID_ARGUMENT` or
 * `404 NOT_FOUND` — in the Google error envelope, none of them reaching an upstream.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';
import {
  betasOf,
  countProbe,
  expectGoogleError,
  expectJsonAnswer,
  expectNoUpstream,
  resetUpstreams,
  sendVertexCountTokens,
  upstreamCount,
  VERTEX_VERSION,
} from './support.ts';

export default defineCase({
  id: 'passthrough/vertex-count-tokens',
  title:
    'Vertex count-tokens:rawPredict is served as /v1/messages/count_tokens and answered {"input_tokens"}',
  feature: 'vertex-passthrough',
  requirements: ['PASSTHROUGH-9', 'PASSTHROUGH-2', 'PASSTHROUGH-3', 'PASSTHROUGH-7'],
  timeoutMs: 30_000,
  async run(ctx) {
    // 1. The count: the Anthropic count_tokens body upstream, the upstream's count back unchanged.
    const { beta, counted } = countProbe(ctx);
    const body = { anthropic_version: VERTEX_VERSION, model: 'claude-sonnet-4-5@20250929', ...counted };
    const inputTokens = 1 + ctx.rng.int(100_000);
    let what = 'count-tokens:rawPredict for claude-sonnet-4-5@20250929';
    ctx.mocks.anthropic.enqueue({ body: { input_tokens: inputTokens } });
    const got = await expectJsonAnswer(
      await sendVertexCountTokens(ctx, { body, headers: { 'anthropic-beta': beta } }),
      what,
    );
    const upstream = await upstreamCount(ctx, what);
    expectEqual(
      upstream.json,
      { model: 'claude-sonnet-4-5-20250929', ...counted },
      `${what}: the upstream count_tokens body vs the Vertex body (catalogue model, without anthropic_version)`,
    );
    expectThat(
      betasOf(upstream.headers).includes(beta),
      `${what}: the client's anthropic-beta ${beta} must reach the upstream, got ${JSON.stringify(upstream.headers['anthropic-beta'])}`,
    );
    expectThat(
      !ctx.mocks.anthropic.requests.some((r) => r.url.split('?')[0] === '/v1/messages'),
      `${what}: served as a model named count-tokens (the upstream received POST /v1/messages)`,
    );
    expectEqual(got, { input_tokens: inputTokens }, `${what}: the answer vs the upstream's count`);

    // 2. Errors in the Google envelope, none reaching an upstream.
    const { model: _m, ...withoutModel } = body;
    const { anthropic_version: _v, ...withoutVersion } = body;
    const refusals: Array<[string, unknown, string | null | undefined, readonly number[]]> = [
      ['no credential', body, null, [401]],
      ['a body without model', withoutModel, undefined, [400]],
      ['a body without anthropic_version', withoutVersion, undefined, [400]],
      ['a body that is a JSON array', [body], undefined, [400]],
      [
        'a model that maps to no catalogue model',
        { ...body, model: `claude-nonesuch-${ctx.rng.hex(4)}@20250101` },
        undefined,
        [400, 404],
      ],
    ];
    const { restrictedModel } = ctx.policy;
    if (ctx.gateway.features.includes('sign-in')) {
      const { tokens } = await signedIn(ctx, [ctx.policy.groups.restricted]);
      const deniedModel = restrictedModel === 'claude-sonnet-4-5' ? 'claude-opus-4-1' : 'claude-sonnet-4-5';
      refusals.push([
        `${deniedModel} for a user whose policy allows only ${restrictedModel}`,
        { ...body, model: deniedModel },
        tokens.accessToken,
        [400],
      ]);
    } else {
      ctx.note('sign-in not declared: a model refused by policy was not checked on the Vertex count');
    }
    for (const [name, bad, bearer, statuses] of refusals) {
      resetUpstreams(ctx);
      what = `count-tokens:rawPredict with ${name}`;
      await expectGoogleError(
        await sendVertexCountTokens(ctx, { body: bad, ...(bearer === undefined ? {} : { bearer }) }),
        statuses,
        what,
      );
      expectNoUpstream(ctx, what);
    }
  },
});
