/**
 * RFC 8628 device authorization state on PGlite (always) and PostgreSQL (when OCG_TEST_DATABASE_URL is set):
 * code entropy and format, slow_down and interval growth, expiry, single use, user-code normalisation, one
 * decision per authorization, browser binding.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log/logger.ts';
import {
  createDeviceAuthorizations,
  type DeviceAuthorizations,
  generateUserCode,
  normaliseUserCode,
  USER_CODE_ALPHABET,
} from '../src/session/device-codes.ts';
import { createKek } from '../src/session/kek.ts';
import { createSessionManager } from '../src/session/sessions.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, type Store } from '../src/store/store.ts';
import { BACKENDS, createTestDatabase } from './helpers.ts';

const T0 = Date.parse('2031-03-04T05:06:07Z');
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

describe('user codes', () => {
  it('are 8 characters of the base-20 alphabet, drawn uniformly', () => {
    const counts = new Map<string, number>();
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const code = generateUserCode();
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      for (const c of code) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect([...counts.keys()].sort().join('')).toBe(USER_CODE_ALPHABET);
    const expected = (n * 8) / 20; // 2000 per letter; a biased modulo draw would skew the first letters by ~7%
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.1);
  });

  const cases: Array<[given: string, want: string | null]> = [
    ['BCDF-GHJK', 'BCDFGHJK'],
    ['bcdf-ghjk', 'BCDFGHJK'],
    ['bcdfghjk', 'BCDFGHJK'],
    [' BCDF GHJK ', 'BCDFGHJK'],
    ['bc df\t-gh jk', 'BCDFGHJK'],
    ['BCDF–GHJK', 'BCDFGHJK'], // en dash, as some keyboards autocorrect
    ['ABCD-EFGH', null], // vowels are not in the alphabet
    ['BCDF-GHJ', null],
    ['BCDF-GHJKL', null],
    ['BCDF-GHJ0', null],
    ['', null],
    ['B'.repeat(100), null],
  ];
  it.each(cases)('normalises %j → %j', (given, want) => {
    expect(normaliseUserCode(given)).toBe(want);
  });
});

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `device authorizations on ${backend.name}${backend.skip ? ` (${backend.skip})` : ''}`,
    () => {
      let store: Store;
      let drop = async () => {};
      let t = T0;
      const now = () => t;
      let devices: DeviceAuthorizations;
      let sessionFor: (subject: string) => Promise<string>;

      beforeAll(async () => {
        let url = 'pglite:memory:';
        if (backend.name === 'postgres') ({ url, drop } = await createTestDatabase());
        store = await createStore(url, { logger: silentLogger });
        await migrate(store, { logger: silentLogger });
        devices = createDeviceAuthorizations(store, { now });
        const sessions = createSessionManager(store, createKek(Buffer.alloc(32, 7).toString('base64')), {
          refreshTokenTtlS: 86_400,
          now,
        });
        sessionFor = async (subject) =>
          (
            await sessions.createPendingSession({
              subject,
              email: null,
              name: null,
              groups: [],
              idpIssuer: 'https://idp',
              idpSubject: subject,
              ttlS: 86_400,
            })
          ).sessionId;
      });
      afterAll(async () => {
        await store?.close();
        await drop();
      });

      const start = () => {
        t = T0;
        return devices.startDeviceAuthorization({ clientId: 'claude-code', scope: 'inference' });
      };

      it('device codes carry 256 random bits and are stored only hashed; user codes look like XXXX-XXXX', async () => {
        const a = await start();
        expect(a.deviceCode).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Buffer.from(a.deviceCode, 'base64url')).toHaveLength(32);
        expect(a.userCode).toMatch(USER_CODE);
        expect(a).toMatchObject({ expiresIn: 600, interval: 5 });
        const rows = await store.query<{ device_code_hash: string; user_code: string }>(
          'SELECT device_code_hash, user_code FROM device_authorizations WHERE user_code = $1',
          [a.userCode.replace('-', '')],
        );
        expect(rows.rows[0]?.device_code_hash).toBe(createHash('sha256').update(a.deviceCode).digest('hex'));
        const b = await start();
        expect(b.deviceCode).not.toBe(a.deviceCode);
        expect(b.userCode).not.toBe(a.userCode);
      });

      it('finds an authorization by its user code in any common spelling', async () => {
        const a = await start();
        const raw = a.userCode.replace('-', '');
        for (const spelling of [
          a.userCode,
          a.userCode.toLowerCase(),
          raw,
          ` ${raw.slice(0, 4)} ${raw.slice(4)} `,
        ]) {
          expect(await devices.findByUserCode(spelling)).toMatchObject({
            userCode: a.userCode,
            clientId: 'claude-code',
            scope: 'inference',
            status: 'pending',
            expired: false,
            browserBound: false,
          });
        }
        expect(await devices.findByUserCode('BBBB-BBBB')).toBeNull();
        expect(await devices.findByUserCode('not a code')).toBeNull();
      });

      it('polling faster than the interval is slow_down, and the interval grows by 5 s each time', async () => {
        const a = await start();
        const poll = (atS: number) => devices.pollDeviceAuthorization(a.deviceCode, T0 + atS * 1000);
        const steps: Array<[atS: number, want: Awaited<ReturnType<typeof poll>>]> = [
          [0, { status: 'pending' }],
          [1, { status: 'slow_down', interval: 10 }], // 1 s after the last poll, interval 5
          [6, { status: 'slow_down', interval: 15 }], // 5 s after, but the interval is 10 now
          [21, { status: 'pending' }], // 15 s after
          [36, { status: 'pending' }], // 15 s after: the interval stays 15
          [40, { status: 'slow_down', interval: 20 }],
        ];
        for (const [atS, want] of steps) expect(await poll(atS), `poll at ${atS}s`).toEqual(want);
      });

      it('approval is returned once, then the device code is consumed', async () => {
        const a = await start();
        const sid = await sessionFor('user-1');
        expect(await devices.pollDeviceAuthorization(a.deviceCode, T0)).toEqual({ status: 'pending' });
        t = T0 + 10_000;
        expect(await devices.approve(a.userCode.toLowerCase(), sid, 'user-1')).toBe(true);
        expect(await devices.findByUserCode(a.userCode)).toMatchObject({ status: 'approved' });
        expect(await devices.pollDeviceAuthorization(a.deviceCode, T0 + 10_000)).toEqual({
          status: 'approved',
          sessionId: sid,
          subject: 'user-1',
          clientId: 'claude-code',
          scope: 'inference',
        });
        expect(await devices.pollDeviceAuthorization(a.deviceCode, T0 + 20_000)).toEqual({
          status: 'invalid_grant',
        });
        expect(await devices.findByUserCode(a.userCode)).toMatchObject({ status: 'consumed' });
      });

      it('decides once: approve/deny only while pending and unexpired', async () => {
        const sid = await sessionFor('user-2');
        const a = await start();
        expect(await devices.approve(a.userCode, sid, 'user-2')).toBe(true);
        expect(await devices.approve(a.userCode, sid, 'user-2')).toBe(false);
        expect(await devices.deny(a.userCode)).toBe(false);

        const b = await start();
        expect(await devices.deny(b.userCode)).toBe(true);
        expect(await devices.approve(b.userCode, sid, 'user-2')).toBe(false);
        expect(await devices.pollDeviceAuthorization(b.deviceCode, T0)).toEqual({ status: 'denied' });

        const c = await start();
        t = T0 + 600_000;
        expect(await devices.approve(c.userCode, sid, 'user-2')).toBe(false);
        expect(await devices.deny(c.userCode)).toBe(false);
        expect(await devices.findByUserCode(c.userCode)).toMatchObject({ status: 'pending', expired: true });
        expect(await devices.approve('not-a-code', sid, 'user-2')).toBe(false);
      });

      it('expires: polls after expires_in answer expired, even once approved', async () => {
        const a = await start();
        expect(await devices.pollDeviceAuthorization(a.deviceCode, T0 + 599_000)).toEqual({
          status: 'pending',
        });
        expect(await devices.pollDeviceAuthorization(a.deviceCode, T0 + 610_000)).toEqual({
          status: 'expired',
        });
        const b = await start();
        expect(await devices.approve(b.userCode, await sessionFor('user-3'), 'user-3')).toBe(true);
        expect(await devices.pollDeviceAuthorization(b.deviceCode, T0 + 600_000)).toEqual({
          status: 'expired',
        });
      });

      const unknown: Array<[name: string, code: string]> = [
        ['unknown', Buffer.alloc(32, 1).toString('base64url')],
        ['malformed', 'short'],
        ['a user code', 'BCDF-GHJK'],
      ];
      it.each(unknown)('an %s device code is invalid_grant', async (_name, code) => {
        expect(await devices.pollDeviceAuthorization(code, T0)).toEqual({ status: 'invalid_grant' });
      });

      it('binds the approval to the browser that started the verification', async () => {
        const sid = await sessionFor('user-4');
        const a = await start();
        expect(await devices.bindBrowser(a.userCode, 'browser-secret-1')).toBe(true);
        expect(await devices.bindBrowser(a.userCode, 'browser-secret-1')).toBe(true);
        expect(await devices.bindBrowser(a.userCode, 'browser-secret-2')).toBe(false);
        expect(await devices.findByUserCode(a.userCode)).toMatchObject({ browserBound: true });
        expect(await devices.approve(a.userCode, sid, 'user-4')).toBe(false);
        expect(await devices.approve(a.userCode, sid, 'user-4', 'browser-secret-2')).toBe(false);
        expect(await devices.deny(a.userCode, 'browser-secret-2')).toBe(false);
        expect(await devices.approve(a.userCode, sid, 'user-4', 'browser-secret-1')).toBe(true);
        const rows = await store.query<{ h: string }>(
          'SELECT browser_binding_hash AS h FROM device_authorizations WHERE user_code = $1',
          [a.userCode.replace('-', '')],
        );
        expect(rows.rows[0]?.h).not.toContain('browser-secret-1');
      });

      it('draws another user code on a collision', async () => {
        const taken = (await start()).userCode.replace('-', '');
        const queue = [taken, taken, 'ZZZZZZZZ'];
        const colliding = createDeviceAuthorizations(store, {
          now,
          userCodes: () => queue.shift() as string,
        });
        const a = await colliding.startDeviceAuthorization({ clientId: 'c' });
        expect(a.userCode).toBe('ZZZZ-ZZZZ');
        expect(queue).toEqual([]);
        const stuck = createDeviceAuthorizations(store, { now, userCodes: () => taken });
        await expect(stuck.startDeviceAuthorization({ clientId: 'c' })).rejects.toThrow(/unique user code/);
      });
    },
  );
}
