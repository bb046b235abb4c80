/**
 * SESSION-1 — the device authorization endpoint takes a form-encoded POST without any parameter (as Claude Code
 * sends it), or with the optional `client_id`/`scope` and parameters it does not know, and answers `200` with
 * `device_code`, `user_code`, `verification_uri`, `verification_uri_complete`, `expires_in` and `interval`, with
 * `Cache-Control: no-store`.
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';
import { expectNoStore } from './support.ts';

export default defineCase({
  id: 'session/device-authorization',
  title: 'The device authorization endpoint answers an empty form with every RFC 8628 field, not cached',
  feature: 'sign-in',
  requirements: ['SESSION-1'],
  timeoutMs: 20_000,
  async run(ctx) {
    const meta = await ctx.oauth.metadata();
    const scopes = Array.isArray(meta.scopes_supported) ? (meta.scopes_supported as unknown[]) : [];
    const scope = scopes.find((s): s is string => typeof s === 'string');
    const table: Array<[string, Record<string, string>]> = [
      ['an empty form (what Claude Code sends)', {}],
      [
        `client_id${scope ? ' and a supported scope' : ''}`,
        { client_id: 'ocg-conformance', ...(scope ? { scope } : {}) },
      ],
      ['a parameter the gateway does not know (Claude Code sends surface)', { surface: 'claude_code' }],
    ];
    for (const [what, form] of table) {
      const device = await ctx.oauth.startDeviceAuthorization(form);
      expectNoStore(device.headers, what);
      const raw = device.raw;
      for (const field of ['verification_uri_complete', 'expires_in', 'interval']) {
        expectThat(raw[field] !== undefined, `${what}: the answer has no ${field}`, {
          fields: Object.keys(raw),
        });
      }
      for (const field of ['expires_in', 'interval'] as const) {
        expectThat(
          Number.isInteger(raw[field]) && (raw[field] as number) > 0,
          `${what}: ${field} must be a positive integer, got ${JSON.stringify(raw[field])}`,
        );
      }
      for (const field of ['verification_uri', 'verification_uri_complete'] as const) {
        const url = new URL(String(raw[field]));
        expectThat(
          url.protocol === 'https:' || url.hostname === '127.0.0.1' || url.hostname === 'localhost',
          `${what}: ${field} must be https (or loopback), got ${url.href}`,
        );
      }
      const complete = decodeURIComponent(String(raw.verification_uri_complete)).toUpperCase();
      expectThat(
        complete.includes(device.userCode.toUpperCase()) ||
          complete.includes(device.userCode.replace(/-/g, '').toUpperCase()),
        `${what}: verification_uri_complete does not carry the user code`,
      );
    }
  },
});
