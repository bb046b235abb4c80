/**
 * POLICY-3 — a user no policy matches gets `404 not_found_error` (the fixture has no catch-all policy: a user in
 * no group, or only in an admin group, has none), which is distinct from an empty policy: a user of the
 * `empty-settings` group gets `200` with empty settings (give or take client environment the gateway pushes,
 * POLICY-5).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectSettings, expectSettingsOf, getSettings, signedIn } from './support.ts';

export default defineCase({
  id: 'policy/no-policy',
  title: 'No policy is 404 not_found_error, an empty policy is 200 with empty settings',
  feature: 'managed-settings',
  requirements: ['POLICY-3'],
  timeoutMs: 30_000,
  async run(ctx) {
    for (const [what, groups] of [
      ['a user in no group', []],
      ['a user only in the read admin group', [ctx.policy.groups.adminRead]],
    ] as const) {
      const { tokens } = await signedIn(ctx, groups);
      const answer = await getSettings(ctx, tokens.accessToken);
      expectThat(
        answer.status === 404 && answer.errorType === 'not_found_error',
        `${what}: GET /managed/settings answered ${answer.status} ${answer.errorType ?? ''}, expected 404 not_found_error`,
        { body: answer.text.slice(0, 500) },
      );
      expectThat(answer.headers.etag === undefined, `${what}: the 404 carries an ETag`);
    }
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.emptySettings]);
    const empty = await expectSettings(ctx, tokens.accessToken, 'a user of the empty-settings group');
    const pushed = expectSettingsOf(
      (empty.body as NonNullable<typeof empty.body>).settings,
      {},
      'a user of the empty-settings group',
    );
    if (pushed.length > 0) ctx.note(`the empty policy's settings carry pushed env ${pushed.join(', ')}`);
  },
});
