/**
 * POLICY-6 — the model allowlist is enforced on `POST /v1/messages` and `count_tokens` before anything goes
 * upstream. A user of the `restricted` group (one model) asking for another catalogue model, an alias of one, a
 * model the gateway does not offer, or no model at all gets `400 invalid_request_error` whose message names the
 * model or the rule, and the mock upstream receives nothing; a user with no policy is refused every model. Then
 * the allowed model, by id and by alias, is served (MODELS-2: the upstream sees that model).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectNoUpstreamCall, upstreamJson, upstreamRequest } from '../support.ts';
import { probeMessage, sendMessage, signedIn } from './support.ts';

export default defineCase({
  id: 'policy/allowlist',
  title: 'Denied, unknown and missing models are 400 and never reach the upstream',
  feature: 'models',
  requirements: ['POLICY-6', 'MODELS-2'],
  timeoutMs: 40_000,
  async run(ctx) {
    const { restrictedModel } = ctx.policy;
    const allowed = ctx.policy.models.find((m) => m.id === restrictedModel);
    const denied = ctx.policy.models.filter((m) => m.id !== restrictedModel);
    const deniedAlias = denied.flatMap((m) => m.aliases ?? [])[0];
    const unknown = `gpt-conformance-${ctx.rng.hex(6)}`;
    const countTokens = ctx.gateway.features.includes('count-tokens');

    const { tokens } = await signedIn(ctx, [ctx.policy.groups.restricted]);
    const { tokens: nobody } = await signedIn(ctx, []);
    const refusals: Array<[string, string, unknown, readonly string[]]> = [
      ...denied
        .slice(0, 2)
        .map((m): [string, string, unknown, string[]] => [
          `the restricted user asking for ${m.id}`,
          tokens.accessToken,
          probeMessage(ctx, m.id),
          [m.id, 'restricted'],
        ]),
      ...(deniedAlias
        ? [
            [
              `the restricted user asking for ${deniedAlias}, an alias of a denied model`,
              tokens.accessToken,
              probeMessage(ctx, deniedAlias),
              [deniedAlias, 'restricted'],
            ] as [string, string, unknown, string[]],
          ]
        : []),
      [
        `the restricted user asking for ${unknown}, which the gateway does not offer`,
        tokens.accessToken,
        probeMessage(ctx, unknown),
        [unknown],
      ],
      ['the restricted user sending no model', tokens.accessToken, probeMessage(ctx, null), ['model']],
      [
        `a user with no policy asking for ${restrictedModel}`,
        nobody.accessToken,
        probeMessage(ctx, restrictedModel),
        [restrictedModel, 'polic'],
      ],
    ];
    const endpoints = countTokens ? (['messages', 'count_tokens'] as const) : (['messages'] as const);
    for (const endpoint of endpoints) {
      for (const [what, token, body, named] of refusals) {
        const answer = await sendMessage(ctx, token, body, endpoint);
        const where = `${what} on ${endpoint === 'messages' ? '/v1/messages' : '/v1/messages/count_tokens'}`;
        expectThat(
          answer.status === 400 && answer.errorType === 'invalid_request_error',
          `${where}: expected 400 invalid_request_error, got ${answer.status} ${answer.errorType ?? ''}`.trim(),
          { body: answer.text.slice(0, 500) },
        );
        expectThat(
          named.some((n) => answer.message.toLowerCase().includes(n.toLowerCase())),
          `${where}: the message ${JSON.stringify(answer.message)} names neither ${named.map((n) => JSON.stringify(n)).join(' nor ')}`,
        );
      }
    }
    if (!countTokens) ctx.note('count-tokens not declared: the allowlist was checked on /v1/messages only');
    expectNoUpstreamCall(ctx, 'after refused models');

    for (const model of [restrictedModel, ...(allowed?.aliases ?? [])]) {
      ctx.mocks.anthropic.reset();
      const answer = await sendMessage(ctx, tokens.accessToken, probeMessage(ctx, model));
      expectThat(
        answer.status === 200,
        `the restricted user asking for its allowed model as ${model}: got ${answer.status} ${answer.message}`,
      );
      const upstream = upstreamJson(await upstreamRequest(ctx)) as { model?: unknown };
      expectThat(
        upstream.model === model || upstream.model === restrictedModel,
        `a request for ${model} reached the upstream as model ${JSON.stringify(upstream.model)}`,
      );
    }
  },
});
