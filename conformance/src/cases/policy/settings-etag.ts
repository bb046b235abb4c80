/**
 * POLICY-2 — the checksum is `sha256:` + hex SHA-256 of `JSON.stringify(settings)` with object keys sorted
 * recursively — what the Claude Code client computes from its cached copy — and `If-None-Match` with it (quoted, as
 * the ETag, and weak) answers `304` without a body; a stale tag answers `200` again. Checked for the `developers`,
 * `restricted` and `empty-settings` policies (the restricted settings are not written in sorted key order, so a
 * checksum over unsorted keys shows).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectSettings, getSettings, settingsChecksum, signedIn } from './support.ts';

export default defineCase({
  id: 'policy/settings-etag',
  title: 'The checksum is SHA-256 over sorted-key JSON and If-None-Match with it answers 304',
  feature: 'managed-settings',
  requirements: ['POLICY-2'],
  timeoutMs: 40_000,
  async run(ctx) {
    for (const policyName of ['developers', 'restricted', 'emptySettings'] as const) {
      const { tokens } = await signedIn(ctx, [ctx.policy.groups[policyName]]);
      const what = `a user of the ${policyName} group`;
      const answer = await expectSettings(ctx, tokens.accessToken, what);
      const body = answer.body as NonNullable<typeof answer.body>;
      const computed = settingsChecksum(body.settings);
      expectThat(
        body.checksum === computed,
        `${what}: checksum ${body.checksum} is not sha256 of the settings with sorted keys (${computed})`,
        { settings: body.settings },
      );
      for (const [form, tag] of [
        ['the quoted checksum', `"${computed}"`],
        ['the weak form W/"…"', `W/"${computed}"`],
      ] as const) {
        const cached = await getSettings(ctx, tokens.accessToken, tag);
        expectThat(
          cached.status === 304,
          `${what}: If-None-Match with ${form} answered ${cached.status}, expected 304`,
          { body: cached.text.slice(0, 300) },
        );
        expectThat(cached.text === '', `${what}: the 304 carries a body (${cached.text.length} bytes)`);
      }
      const stale = `"sha256:${'0'.repeat(64)}"`;
      const fresh = await getSettings(ctx, tokens.accessToken, stale);
      expectThat(
        fresh.status === 200 && fresh.body?.checksum === computed,
        `${what}: If-None-Match with a stale checksum answered ${fresh.status}, expected 200 with the settings`,
      );
    }
  },
});
