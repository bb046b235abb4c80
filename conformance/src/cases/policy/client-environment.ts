/**
 * POLICY-5 (MAY) — a gateway may push client environment through managed settings (`env`): the case reports which
 * variables it adds to the `restricted` policy's settings (model discovery, OTLP exporter pointed at the gateway),
 * and checks only that what it pushes is well formed (string values) and leaves the policy's own `env` intact.
 */
import { defineCase } from '../../runner/types.ts';
import { expectSettings, expectSettingsOf, fixtureSettings, signedIn } from './support.ts';

export default defineCase({
  id: 'policy/client-environment',
  title: 'Client environment pushed through managed settings is well formed',
  feature: 'managed-settings',
  requirements: ['POLICY-5'],
  timeoutMs: 20_000,
  async run(ctx) {
    const { tokens } = await signedIn(ctx, [ctx.policy.groups.restricted]);
    const what = 'a user of the restricted group';
    const answer = await expectSettings(ctx, tokens.accessToken, what);
    const settings = (answer.body as NonNullable<typeof answer.body>).settings;
    const pushed = expectSettingsOf(settings, fixtureSettings(ctx, 'restricted') ?? {}, what);
    const env = (settings.env ?? {}) as Record<string, string>;
    ctx.note(
      pushed.length === 0
        ? 'the gateway pushes no client environment'
        : `the gateway pushes ${pushed.map((n) => `${n}=${JSON.stringify(env[n])}`).join(', ')}`,
    );
  },
});
