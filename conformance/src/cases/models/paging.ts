/**
 * MODELS-1 (paging) — `limit`, `after_id` and `before_id` page through a developers user's list as the Anthropic
 * Models API does: forward pages of two joined give the whole list, backward pages from the last id give the rest
 * in order, `has_more` says whether more models lie in the paging direction, and `first_id`/`last_id` name each
 * page's ends.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { listModels, signedIn } from '../policy/support.ts';
import { expectEqual } from '../support.ts';

export default defineCase({
  id: 'models/paging',
  title: 'Model list paging with limit, after_id and before_id',
  feature: 'models',
  requirements: ['MODELS-1'],
  timeoutMs: 30_000,
  async run(ctx) {
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.developers]);
    const token = tokens.accessToken;
    const full = (await listModels(ctx, token)).data.map((m) => m.id);
    expectThat(full.length >= 3, `kit bug: paging needs at least 3 models, the list has ${full.length}`);

    const first = await listModels(ctx, token, '?limit=1');
    expectEqual(
      first.data.map((m) => m.id),
      full.slice(0, 1),
      'limit=1: the first page',
    );
    expectThat(first.has_more, 'limit=1: has_more is false although more models follow');

    const forward: string[] = [];
    let after: string | null = null;
    for (let i = 0; i <= full.length; i++) {
      const query: string = `?limit=2${after === null ? '' : `&after_id=${encodeURIComponent(after)}`}`;
      const page = await listModels(ctx, token, query);
      const ids = page.data.map((m) => m.id);
      forward.push(...ids);
      const more = forward.length < full.length;
      expectThat(
        page.has_more === more,
        `${query}: has_more is ${page.has_more}, but ${full.length - forward.length} models follow`,
        { ids },
      );
      if (!more) break;
      expectThat(ids.length === 2, `${query}: a page with more to come has ${ids.length} models, not 2`);
      after = page.last_id;
    }
    expectEqual(forward, full, 'forward pages of 2, joined, vs the whole list');

    const last = full.at(-1) as string;
    const backward: string[][] = [];
    let before: string | null = last;
    for (let i = 0; i <= full.length && before !== null; i++) {
      const query = `?limit=2&before_id=${encodeURIComponent(before)}`;
      const page = await listModels(ctx, token, query);
      const ids = page.data.map((m) => m.id);
      backward.unshift(ids);
      const seen = backward.flat().length;
      const more = seen < full.length - 1;
      expectThat(
        page.has_more === more,
        `${query}: has_more is ${page.has_more}, but ${full.length - 1 - seen} models lie before this page`,
        { ids },
      );
      before = more ? page.first_id : null;
    }
    expectEqual(backward.flat(), full.slice(0, -1), `backward pages of 2 from before_id=${last}, joined`);

    const tail = await listModels(ctx, token, `?after_id=${encodeURIComponent(last)}`);
    expectEqual(
      { data: tail.data, has_more: tail.has_more },
      { data: [], has_more: false },
      `after_id=${last} (the last model)`,
    );
  },
});
