/**
 * SESSION-4 (polling) — while a device code waits for the user, the token endpoint answers `400
 * authorization_pending`; a poll sooner than `interval` gets `slow_down` (400, or 429 as some servers do), and the
 * interval grows by 5 s for every later poll: polling again after the original interval is still too soon.
 */
import { defineCase } from '../../runner/types.ts';
import { sleep } from '../support.ts';
import { expectNoStore, expectOAuthError } from './support.ts';

export default defineCase({
  id: 'session/polling',
  title: 'Polling answers authorization_pending, and slow_down (+5 s) when too fast',
  feature: 'sign-in',
  requirements: ['SESSION-4'],
  timeoutMs: 40_000,
  async run(ctx) {
    const device = await ctx.oauth.startDeviceAuthorization();
    // The first poll, one interval after issue: what a client does.
    await sleep(Math.max(0, device.issuedAt + device.interval * 1000 + 100 - Date.now()));
    const first = await ctx.oauth.poll(device);
    expectOAuthError(first, 400, 'authorization_pending', 'the first poll of a code nobody approved');
    expectNoStore(first.headers, 'an authorization_pending answer');
    const second = await ctx.oauth.poll(device);
    expectOAuthError(second, [400, 429], 'slow_down', 'a poll right after the previous one');
    // Still too soon: after a slow_down the interval is interval + 5 s.
    await sleep(device.interval * 1000 + 600);
    const third = await ctx.oauth.poll(device);
    expectOAuthError(
      third,
      [400, 429],
      'slow_down',
      `a poll ${device.interval} s later (the original interval, but slow_down raised it by 5 s)`,
    );
  },
});
