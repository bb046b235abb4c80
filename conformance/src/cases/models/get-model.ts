/**
 * MODELS-3 (SHOULD) — `GET /v1/models/{model_id}` answers one model the caller may use, as `/v1/models` lists it,
 * and `404 not_found_error` for any other id: a catalogue model outside a restricted user's allowlist (by id and
 * by alias) and an id the gateway does not offer.
 */
import { expectThat } from '../../errors.ts';
import type { CaseContext } from '../../runner/types.ts';
import { defineCase } from '../../runner/types.ts';
import { errorOf, listModels, signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';

async function getModel(ctx: CaseContext, token: string, id: string) {
  const res = await ctx.client.send({
    operationId: 'getModel',
    path: `/v1/models/${encodeURIComponent(id)}`,
    bearer: token,
  });
  const text = await res.text();
  return { status: res.status, text, ...errorOf(text) };
}

export default defineCase({
  id: 'models/get-model',
  title: 'One model by id or alias, 404 for a model the caller may not use',
  feature: 'models',
  requirements: ['MODELS-3'],
  timeoutMs: 30_000,
  async run(ctx) {
    const { restrictedModel } = ctx.policy;
    const { tokens: developer } = await signedIn(ctx, [ctx.policy.groups.developers]);
    for (const entry of (await listModels(ctx, developer.accessToken)).data) {
      const got = await getModel(ctx, developer.accessToken, entry.id);
      expectThat(got.status === 200, `GET /v1/models/${entry.id} answered ${got.status}`);
      expectEqual(JSON.parse(got.text), entry, `GET /v1/models/${entry.id} vs its /v1/models entry`);
    }

    const { tokens: restricted } = await signedIn(ctx, [ctx.policy.groups.restricted]);
    const own = await getModel(ctx, restricted.accessToken, restrictedModel);
    expectThat(
      own.status === 200,
      `a restricted user: GET /v1/models/${restrictedModel} answered ${own.status}`,
    );
    const denied = ctx.policy.models.filter((m) => m.id !== restrictedModel);
    const probes = [
      ...denied.slice(0, 2).map((m) => m.id),
      ...denied.flatMap((m) => m.aliases ?? []).slice(0, 1),
      `gpt-conformance-${ctx.rng.hex(6)}`,
    ];
    for (const id of probes) {
      const got = await getModel(ctx, restricted.accessToken, id);
      expectThat(
        got.status === 404 && got.errorType === 'not_found_error',
        `a restricted user: GET /v1/models/${id} answered ${got.status} ${got.errorType ?? ''}, expected 404 not_found_error`,
        { body: got.text.slice(0, 300) },
      );
    }
  },
});
