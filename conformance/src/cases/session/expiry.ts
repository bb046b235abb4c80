/**
 * SESSION-2 (expiry), SESSION-4 (`expired_token`), SESSION-12 (expired access tokens) — a device code stops
 * working after `expires_in`, and an access token is refused once its lifetime and the gateway's clock skew have
 * passed. The case starts both clocks in `prepare`, right after the gateway starts, and checks when its turn
 * comes (the runner puts it last), so the waiting overlaps the other cases.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import type { DeviceAuthorization, TokenSet } from '../../signin/driver.ts';
import { describePage } from '../../signin/driver.ts';
import { accessTokenExpiredAt, sleep } from '../support.ts';
import { expectOAuthError, expectRefusedProbe, probeBearer } from './support.ts';

interface Prepared {
  device: DeviceAuthorization;
  tokens: TokenSet;
}

const TIMEOUT_MS = 180_000;

export default defineCase({
  id: 'session/expiry',
  title: 'Device codes expire after expires_in; access tokens are refused after their lifetime and skew',
  feature: 'sign-in',
  requirements: ['SESSION-2', 'SESSION-4', 'SESSION-12'],
  timeoutMs: TIMEOUT_MS,
  async prepare(ctx): Promise<Prepared> {
    const device = await ctx.oauth.startDeviceAuthorization();
    const tokens = await ctx.signIn(ctx.idp.createUser({ groups: [ctx.policy.groups.developers] }));
    return { device, tokens };
  },
  async run(ctx) {
    const { device, tokens } = ctx.prepared as Prepared;
    const budget = TIMEOUT_MS - 15_000;
    const started = Date.now();
    const deviceExpired = device.issuedAt + device.expiresIn * 1000 + 1500;
    const tokenExpired = accessTokenExpiredAt(ctx, tokens);

    if (deviceExpired - started <= budget) {
      await sleep(Math.max(0, deviceExpired - Date.now()));
      expectOAuthError(
        await ctx.oauth.poll(device),
        400,
        'expired_token',
        `polling ${device.expiresIn} s after issue`,
      );
      const browser = ctx.newBrowser();
      const page = await browser.get(device.verificationUriComplete ?? device.verificationUri, {
        stopAt: (u) => u.origin === new URL(ctx.idp.origin).origin,
      });
      const form = page.forms.find((f) => f.fields.some((x) => x.name === 'user_code'));
      if (form) {
        const after = await ctx.oauth.submitVerification(browser, page, {
          action: 'approve',
          stopAtIdp: true,
        });
        expectThat(
          !after.location || new URL(after.location).origin !== new URL(ctx.idp.origin).origin,
          `an expired user code was still sent to the IdP for approval: ${describePage(after)}`,
        );
      }
    } else {
      ctx.note(
        `device code expiry not observed: expires_in ${device.expiresIn} s is longer than the case can wait`,
      );
    }

    if (tokenExpired - started <= budget) {
      await sleep(Math.max(0, tokenExpired - Date.now()));
      expectRefusedProbe(
        await probeBearer(ctx, tokens.accessToken),
        `an access token ${tokens.expiresIn} s + ${ctx.gateway.clockToleranceS} s skew after issue`,
      );
    } else {
      ctx.note(
        `access-token expiry not observed: expires_in ${tokens.expiresIn} s + skew ${ctx.gateway.clockToleranceS} s is longer than the case can wait`,
      );
    }
  },
});
