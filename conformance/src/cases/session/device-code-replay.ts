/**
 * SESSION-2 (single use), SESSION-4 (`invalid_grant`) — a device code gives tokens once: polling again with it
 * after the tokens were issued is `400 invalid_grant`, as is a device code the gateway never issued.
 */
import { defineCase } from '../../runner/types.ts';
import { expectOAuthError } from './support.ts';

export default defineCase({
  id: 'session/device-code-replay',
  title: 'A used or unknown device code is invalid_grant',
  feature: 'sign-in',
  requirements: ['SESSION-2', 'SESSION-4'],
  timeoutMs: 30_000,
  async run(ctx) {
    const user = ctx.idp.createUser({ groups: [ctx.policy.groups.developers] });
    const device = await ctx.oauth.startDeviceAuthorization();
    await ctx.oauth.approve(device, user);
    await ctx.oauth.pollForTokens(device);
    expectOAuthError(
      await ctx.oauth.poll(device),
      400,
      'invalid_grant',
      'the same device code a second time',
    );
    expectOAuthError(
      await ctx.oauth.poll({ ...device, deviceCode: `${ctx.rng.string(43)}` }),
      400,
      'invalid_grant',
      'a device code the gateway never issued',
    );
  },
});
