/**
 * SESSION-16 — the token endpoint answers RFC 6749 error objects: an unknown `grant_type` is `400
 * unsupported_grant_type`; a missing or repeated parameter, or a body that is not form-encoded, `400
 * invalid_request`; a failed refresh `401 invalid_grant`; and every answer carries `Cache-Control: no-store`.
 */
import { defineCase } from '../../runner/types.ts';
import { DEVICE_CODE_GRANT } from '../../signin/driver.ts';
import { expectNoStore, expectOAuthError } from './support.ts';

export default defineCase({
  id: 'session/token-endpoint-errors',
  title: 'The token endpoint answers RFC 6749 errors with the specified status, never cached',
  feature: 'sign-in',
  requirements: ['SESSION-16'],
  timeoutMs: 20_000,
  async run(ctx) {
    const device = await ctx.oauth.startDeviceAuthorization();
    const table: Array<[string, string, Array<[string, string]>, number, string]> = [
      [
        'an unknown grant_type',
        'grant_type=password&username=a&password=b',
        [],
        400,
        'unsupported_grant_type',
      ],
      [
        'the authorization_code grant',
        'grant_type=authorization_code&code=abc',
        [],
        400,
        'unsupported_grant_type',
      ],
      ['no grant_type', `device_code=${device.deviceCode}`, [], 400, 'invalid_request'],
      [
        'the device grant without device_code',
        `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}`,
        [],
        400,
        'invalid_request',
      ],
      [
        'grant_type twice',
        `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}&grant_type=refresh_token&device_code=${device.deviceCode}`,
        [],
        400,
        'invalid_request',
      ],
      [
        'device_code twice',
        `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}&device_code=${device.deviceCode}&device_code=${device.deviceCode}`,
        [],
        400,
        'invalid_request',
      ],
      [
        'a JSON body',
        JSON.stringify({ grant_type: DEVICE_CODE_GRANT, device_code: device.deviceCode }),
        [['content-type', 'application/json']],
        400,
        'invalid_request',
      ],
      ['the refresh grant without refresh_token', 'grant_type=refresh_token', [], 400, 'invalid_request'],
      [
        'an unknown refresh token',
        `grant_type=refresh_token&refresh_token=${ctx.rng.string(43)}`,
        [],
        401,
        'invalid_grant',
      ],
    ];
    for (const [what, body, headers, status, error] of table) {
      const answer = await ctx.oauth.tokenRequest(body, headers);
      expectOAuthError(answer, status, error, what);
      expectNoStore(answer.headers, what);
    }
  },
});
