/**
 * POLICY-1 — `GET /managed/settings` answers the signed-in user's resolved settings as `{uuid, checksum, settings}`
 * with an `ETag` equal to the quoted checksum: for a user of the `developers` group and one of `restricted`, each
 * with its policy's settings (give or take client environment the gateway pushes, POLICY-5), different uuids per
 * policy and the same uuid and checksum on a second read.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectSettings, expectSettingsOf, fixtureSettings, signedIn } from './support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default defineCase({
  id: 'policy/managed-settings',
  title: "Managed settings answer the user's policy with an ETag equal to the quoted checksum",
  feature: 'managed-settings',
  requirements: ['POLICY-1'],
  timeoutMs: 30_000,
  async run(ctx) {
    const uuids = new Map<string, string>();
    for (const policyName of ['developers', 'restricted'] as const) {
      const { tokens } = await signedIn(ctx, [ctx.policy.groups[policyName]]);
      const what = `a user of the ${policyName} group`;
      const first = await expectSettings(ctx, tokens.accessToken, what);
      const body = first.body as NonNullable<typeof first.body>;
      expectThat(UUID.test(body.uuid), `${what}: uuid ${JSON.stringify(body.uuid)} is not a UUID`);
      expectThat(
        first.headers.etag === `"${body.checksum}"`,
        `${what}: the ETag ${JSON.stringify(first.headers.etag)} is not the quoted checksum "${body.checksum}"`,
      );
      expectSettingsOf(body.settings, fixtureSettings(ctx, policyName) ?? {}, what);
      const again = await expectSettings(ctx, tokens.accessToken, `${what}, read again`);
      expectThat(
        again.body?.uuid === body.uuid && again.body?.checksum === body.checksum,
        `${what}: a second read answered another uuid or checksum for unchanged settings`,
        { first: { uuid: body.uuid, checksum: body.checksum }, again: again.body },
      );
      uuids.set(policyName, body.uuid);
    }
    expectThat(
      uuids.get('developers') !== uuids.get('restricted'),
      'two different policies answered the same settings uuid',
    );
  },
});
