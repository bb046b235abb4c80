/**
 * POLICY-4 — one resolved policy decides managed settings, `/v1/models` and inference alike, and it follows the
 * user's groups at the IdP: a user of `restricted` gets that policy's settings, only its model listed and that
 * model served; moved to `developers` at the IdP and refreshed, the same session gets the developers' settings,
 * the whole catalogue and another model served; moved to `empty-settings`, the empty policy; moved out of every
 * group, no policy (404). Only allowed models are sent here: refusals are `policy/allowlist`'s business.
 */
import { expectThat } from '../../errors.ts';
import type { CaseContext } from '../../runner/types.ts';
import { defineCase } from '../../runner/types.ts';
import { expectEqual, upstreamRequest } from '../support.ts';
import {
  expectSettings,
  expectSettingsOf,
  fixtureSettings,
  getSettings,
  listedIds,
  probeMessage,
  sendMessage,
  signedIn,
} from './support.ts';

async function expectServed(ctx: CaseContext, token: string, model: string, what: string): Promise<void> {
  if (!ctx.gateway.features.includes('inference')) return;
  ctx.mocks.anthropic.reset();
  const answer = await sendMessage(ctx, token, probeMessage(ctx, model));
  expectThat(
    answer.status === 200,
    `${what}: a request for ${model} answered ${answer.status} ${answer.message}`,
  );
  await upstreamRequest(ctx);
}

export default defineCase({
  id: 'policy/precedence',
  title: "One resolved policy decides settings, models and inference, and follows the user's groups",
  feature: 'managed-settings',
  requirements: ['POLICY-4'],
  timeoutMs: 60_000,
  async run(ctx) {
    const { groups, restrictedModel } = ctx.policy;
    const catalogue = ctx.policy.models.map((m) => m.id);
    const models = ctx.gateway.features.includes('models');
    const { user, tokens } = await signedIn(ctx, [groups.restricted]);

    let what = 'a user of the restricted group';
    let settings = await expectSettings(ctx, tokens.accessToken, what);
    expectSettingsOf(settings.body?.settings ?? {}, fixtureSettings(ctx, 'restricted') ?? {}, what);
    if (models)
      expectEqual(await listedIds(ctx, tokens.accessToken), [restrictedModel], `${what}: /v1/models`);
    await expectServed(ctx, tokens.accessToken, restrictedModel, what);

    ctx.idp.setGroups(user.subject, [groups.developers]);
    let current = await ctx.oauth.refreshTokens(tokens.refreshToken ?? '');
    what = 'the same user moved to the developers group at the IdP, after a refresh';
    settings = await expectSettings(ctx, current.accessToken, what);
    expectSettingsOf(settings.body?.settings ?? {}, fixtureSettings(ctx, 'developers') ?? {}, what);
    if (models) {
      expectEqual(
        [...(await listedIds(ctx, current.accessToken))].sort(),
        [...catalogue].sort(),
        `${what}: /v1/models`,
      );
    }
    const other =
      catalogue.find((id) => id !== restrictedModel && id.startsWith('claude-')) ?? restrictedModel;
    await expectServed(ctx, current.accessToken, other, what);

    ctx.idp.setGroups(user.subject, [groups.emptySettings]);
    current = await ctx.oauth.refreshTokens(current.refreshToken ?? '');
    what = 'the same user moved to the empty-settings group, after a refresh';
    settings = await expectSettings(ctx, current.accessToken, what);
    expectSettingsOf(settings.body?.settings ?? {}, {}, what);

    ctx.idp.setGroups(user.subject, []);
    current = await ctx.oauth.refreshTokens(current.refreshToken ?? '');
    what = 'the same user moved out of every group, after a refresh';
    const none = await getSettings(ctx, current.accessToken);
    expectThat(none.status === 404, `${what}: GET /managed/settings answered ${none.status}, expected 404`);
    if (models) expectEqual(await listedIds(ctx, current.accessToken), [], `${what}: /v1/models`);
  },
});
