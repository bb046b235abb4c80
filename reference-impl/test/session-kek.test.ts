/** The key-encryption key: parsing, round trips, and clear errors for a wrong key or a moved ciphertext. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import { createKek, parseKekText } from '../src/session/kek.ts';

const KEY = randomBytes(32);

describe('parseKekText', () => {
  const ok: Array<[name: string, text: string]> = [
    ['base64url', KEY.toString('base64url')],
    ['base64 with padding', KEY.toString('base64')],
    ['surrounding whitespace', ` ${KEY.toString('base64')}\n`],
  ];
  it.each(ok)('accepts %s', (_name, text) => {
    expect(Buffer.from(parseKekText(text)).equals(KEY)).toBe(true);
  });

  const bad: Array<[name: string, text: string, message: RegExp]> = [
    ['16 bytes', randomBytes(16).toString('base64url'), /got 16 bytes/],
    ['33 bytes', randomBytes(33).toString('base64url'), /got 33 bytes/],
    ['not base64', 'this is not a key!'.repeat(3), /not base64/],
    ['empty', '', /not base64/],
  ];
  it.each(bad)('refuses %s with a config error that does not echo the value', (_name, text, message) => {
    let caught: unknown;
    try {
      parseKekText(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(message) });
    if (text) expect((caught as Error).message).not.toContain(text);
  });
});

describe('createKek', () => {
  const kek = createKek(KEY.toString('base64url'));

  it('round-trips, bound to its context, as dir + A256GCM JWE with the KEK id', async () => {
    const jwe = await kek.encrypt('secret value', 'idp_refresh_token:ses_1');
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain('secret value');
    const header = JSON.parse(Buffer.from(jwe.split('.')[0] as string, 'base64url').toString());
    expect(header).toEqual({ alg: 'dir', enc: 'A256GCM', kid: kek.id, ctx: 'idp_refresh_token:ses_1' });
    expect(await kek.decrypt(jwe, 'idp_refresh_token:ses_1')).toBe('secret value');
    // Fresh IV each time.
    expect(await kek.encrypt('secret value', 'x')).not.toBe(await kek.encrypt('secret value', 'x'));
  });

  it('a different KEK is ERR_KEK_MISMATCH naming both key ids, never a crash', async () => {
    const jwe = await kek.encrypt('secret value', 'c');
    const other = createKek(randomBytes(32).toString('base64url'));
    await expect(other.decrypt(jwe, 'c')).rejects.toMatchObject({
      code: 'ERR_KEK_MISMATCH',
      message: expect.stringContaining(kek.id),
    });
    await expect(other.decrypt(jwe, 'c')).rejects.toBeInstanceOf(GatewayError);
  });

  it('a previous KEK still decrypts; new data uses the current one', async () => {
    const jwe = await kek.encrypt('old secret', 'c');
    const next = createKek(randomBytes(32).toString('base64url'), { previous: [KEY.toString('base64')] });
    expect(await next.decrypt(jwe, 'c')).toBe('old secret');
    expect(next.id).not.toBe(kek.id);
  });

  const broken: Array<[name: string, mutate: (jwe: string) => string, code: string]> = [
    ['ciphertext moved to another record', (j) => j, 'ERR_DECRYPTION_FAILED'],
    [
      'ciphertext altered',
      (j) => {
        const p = j.split('.');
        const c = Buffer.from(p[3] as string, 'base64url');
        c[0] = (c[0] as number) ^ 1;
        p[3] = c.toString('base64url');
        return p.join('.');
      },
      'ERR_DECRYPTION_FAILED',
    ],
    ['not a JWE', () => 'garbage', 'ERR_DECRYPTION_FAILED'],
  ];
  it.each(broken)('%s → %s', async (name, mutate, code) => {
    const jwe = mutate(await kek.encrypt('secret value', 'record:1'));
    const context = name.startsWith('ciphertext moved') ? 'record:2' : 'record:1';
    await expect(kek.decrypt(jwe, context)).rejects.toMatchObject({ code });
  });
});
