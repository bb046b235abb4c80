/**
 * SESSION-15 (group changes) — a change of the user's groups at the IdP shows after the next refresh. Observed as a
 * client observes it: the models `/v1/models` lists (feature `models`), else the managed settings
 * (`managed-settings`), else the `groups` claim of a JWT access token.
 */
import { expectThat } from '../../errors.ts';
import type { CaseContext } from '../../runner/types.ts';
import { defineCase } from '../../runner/types.ts';
import { decodeJwt } from '../../signin/jwt.ts';

/** What the gateway shows the holder of `token` that depends on their groups. */
async function view(ctx: CaseContext, token: string): Promise<{ how: string; value: unknown }> {
  if (ctx.gateway.features.includes('models')) {
    const res = await ctx.client.send({
      operationId: 'listModels',
      path: '/v1/models?limit=1000',
      bearer: token,
    });
    const body = await res.json<{ data?: Array<{ id: string }> }>();
    expectThat(res.status === 200, `GET /v1/models answered ${res.status}`, { body });
    return { how: '/v1/models', value: (body.data ?? []).map((m) => m.id).sort() };
  }
  if (ctx.gateway.features.includes('managed-settings')) {
    const res = await ctx.client.send({
      operationId: 'getManagedSettings',
      path: '/managed/settings',
      bearer: token,
    });
    const text = await res.text();
    return { how: '/managed/settings', value: res.status === 200 ? JSON.parse(text).checksum : res.status };
  }
  const claims = decodeJwt(token)?.payload;
  return { how: 'the groups claim', value: claims?.groups };
}

export default defineCase({
  id: 'session/group-change',
  title: "A change of the user's groups at the IdP shows after the next refresh",
  feature: 'sign-in',
  requirements: ['SESSION-15'],
  timeoutMs: 40_000,
  async run(ctx) {
    const { restricted, developers } = ctx.policy.groups;
    const user = ctx.idp.createUser({ groups: [restricted] });
    const tokens = await ctx.signIn(user);
    expectThat(tokens.refreshToken, 'the device-code grant answered no refresh_token');
    const before = await view(ctx, tokens.accessToken);
    if (before.value === undefined) {
      ctx.note(
        'no way to observe groups: the gateway declares neither models nor managed-settings, and its tokens are opaque',
      );
      return;
    }
    ctx.idp.setGroups(user.subject, [developers]);
    const after = await ctx.oauth.refreshTokens(tokens.refreshToken);
    const seen = await view(ctx, after.accessToken);
    expectThat(
      JSON.stringify(seen.value) !== JSON.stringify(before.value),
      `after the user moved from ${restricted} to ${developers} at the IdP and refreshed, ${before.how} shows the same as before`,
      { before: before.value, after: seen.value },
    );
    if (before.how === '/v1/models') {
      expectThat(
        JSON.stringify(before.value) === JSON.stringify([ctx.policy.restrictedModel]),
        `before the change ${before.how} should list only ${ctx.policy.restrictedModel}`,
        { before: before.value },
      );
    }
  },
});
