/**
 * MODELS-1 — `GET /v1/models` lists exactly the models the caller may use, Anthropic-style: a user of
 * `developers` (allowlist `*`) gets the whole catalogue under canonical ids (never an alias) with the fixture's
 * display names and release times; a user of `restricted` gets only its model; a user with no policy an empty list
 * (`first_id`/`last_id` null).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { listModels, signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';

export default defineCase({
  id: 'models/list',
  title: 'The model list is exactly what the caller may use, with canonical ids and display names',
  feature: 'models',
  requirements: ['MODELS-1'],
  timeoutMs: 30_000,
  async run(ctx) {
    const catalogue = ctx.policy.models;
    const { tokens: developer } = await signedIn(ctx, [ctx.policy.groups.developers]);
    const all = await listModels(ctx, developer.accessToken);
    expectThat(!all.has_more, 'a developers user: has_more is true on a page of limit 1000');
    expectEqual(
      all.data.map((m) => m.id).sort(),
      catalogue.map((m) => m.id).sort(),
      'a developers user (allowlist "*"): the listed ids vs the catalogue',
    );
    const aliases = new Set(catalogue.flatMap((m) => m.aliases ?? []));
    for (const entry of all.data) {
      const model = catalogue.find((m) => m.id === entry.id);
      expectThat(!aliases.has(entry.id), `/v1/models lists the alias ${entry.id}`);
      expectThat(entry.type === 'model', `${entry.id}: type is ${JSON.stringify(entry.type)}, not "model"`);
      expectThat(
        entry.display_name === model?.displayName,
        `${entry.id}: display_name ${JSON.stringify(entry.display_name)}, expected ${JSON.stringify(model?.displayName)}`,
      );
      if (model?.createdAt) {
        expectThat(
          typeof entry.created_at === 'string' &&
            Date.parse(entry.created_at) === Date.parse(model.createdAt),
          `${entry.id}: created_at ${JSON.stringify(entry.created_at)}, expected ${model.createdAt}`,
        );
      }
    }
    if (all.data.map((m) => m.id).join() !== catalogue.map((m) => m.id).join()) {
      ctx.note('the list is not in catalogue order');
    }

    const { tokens: restricted } = await signedIn(ctx, [ctx.policy.groups.restricted]);
    const one = await listModels(ctx, restricted.accessToken);
    expectEqual(
      one.data.map((m) => m.id),
      [ctx.policy.restrictedModel],
      'a restricted user: the listed ids',
    );
    expectThat(!one.has_more, 'a restricted user: has_more is true on its one-model list');

    const { tokens: nobody } = await signedIn(ctx, []);
    const none = await listModels(ctx, nobody.accessToken);
    expectEqual(
      { data: none.data, has_more: none.has_more, first_id: none.first_id, last_id: none.last_id },
      { data: [], has_more: false, first_id: null, last_id: null },
      'a user with no policy: the model list',
    );
  },
});
