/**
 * MODELS-2 — an alias is the same model everywhere: `GET /v1/models/{alias}` answers the canonical model,
 * `after_id`/`before_id` accept the alias as the model's position, and a request for the alias is served as that
 * model (the upstream sees the alias or the canonical id, never another model).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { listModels, probeMessage, sendMessage, signedIn } from '../policy/support.ts';
import { expectEqual, upstreamJson, upstreamRequest } from '../support.ts';

export default defineCase({
  id: 'models/aliases',
  title: 'Model aliases resolve to the same model in lookups, paging and inference',
  feature: 'models',
  requirements: ['MODELS-2'],
  timeoutMs: 30_000,
  async run(ctx) {
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.developers]);
    const token = tokens.accessToken;
    const aliased = ctx.policy.models.filter((m) => (m.aliases ?? []).length > 0);
    expectThat(aliased.length > 0, 'kit bug: the fixture catalogue has no alias');
    for (const model of aliased) {
      const alias = (model.aliases ?? [])[0] as string;
      const byId = await ctx.client.send({
        operationId: 'getModel',
        path: `/v1/models/${model.id}`,
        bearer: token,
      });
      const byAlias = await ctx.client.send({
        operationId: 'getModel',
        path: `/v1/models/${alias}`,
        bearer: token,
      });
      const [idText, aliasText] = [await byId.text(), await byAlias.text()];
      expectThat(
        byAlias.status === 200,
        `GET /v1/models/${alias} (an alias of ${model.id}) answered ${byAlias.status}`,
        {
          body: aliasText.slice(0, 300),
        },
      );
      expectThat(byId.status === 200, `GET /v1/models/${model.id} answered ${byId.status}`);
      expectEqual(
        JSON.parse(aliasText),
        JSON.parse(idText),
        `GET /v1/models/${alias} vs /v1/models/${model.id}`,
      );

      for (const cursor of ['after_id', 'before_id']) {
        const viaId = await listModels(ctx, token, `?limit=1000&${cursor}=${model.id}`);
        const viaAlias = await listModels(ctx, token, `?limit=1000&${cursor}=${alias}`);
        expectEqual(
          viaAlias.data.map((m) => m.id),
          viaId.data.map((m) => m.id),
          `/v1/models?${cursor}=${alias} vs ?${cursor}=${model.id}`,
        );
      }

      if (ctx.gateway.features.includes('inference')) {
        ctx.mocks.anthropic.reset();
        const answer = await sendMessage(ctx, token, probeMessage(ctx, alias));
        expectThat(
          answer.status === 200,
          `a request for the alias ${alias} answered ${answer.status} ${answer.message}`,
        );
        const upstream = upstreamJson(await upstreamRequest(ctx)) as { model?: unknown };
        expectThat(
          upstream.model === alias || upstream.model === model.id,
          `a request for ${alias} (${model.id}) reached the upstream as ${JSON.stringify(upstream.model)}`,
        );
      }
    }
  },
});
