/**
 * SESSION-2 (randomness) — a device code carries at least 256 bits of randomness. Eight fresh codes must be
 * distinct, and their varying part (after any common prefix or suffix) must be long enough for 256 bits in the
 * alphabet they are written in (hex: 64 characters, base64url: 43).
 */
import { expectThat } from '../../errors.ts';
import { defineCase } from '../../runner/types.ts';

const SAMPLES = 8;

const ALPHABETS: Array<[string, RegExp, number]> = [
  ['hex', /^[0-9a-f]*$/, 16],
  ['HEX', /^[0-9A-F]*$/, 16],
  ['base32', /^[A-Z2-7]*$/, 32],
  ['base62', /^[A-Za-z0-9]*$/, 62],
  ['base64url', /^[A-Za-z0-9_-]*$/, 64],
  ['base64', /^[A-Za-z0-9+/=]*$/, 64],
];

function commonPrefix(values: string[]): number {
  let n = 0;
  const first = values[0] ?? '';
  while (n < first.length && values.every((v) => v[n] === first[n])) n++;
  return n;
}

/** Bits of randomness the varying parts of `codes` can hold, and the alphabet they were read in. */
export function estimateBits(codes: string[]): { bits: number; alphabet: string; varying: number } {
  const pre = commonPrefix(codes);
  const rest = codes.map((c) => c.slice(pre));
  const suf = commonPrefix(rest.map((c) => [...c].reverse().join('')));
  const varying = rest.map((c) => c.slice(0, c.length - suf));
  const joined = varying.join('');
  const [alphabet, , size] = ALPHABETS.find(([, re]) => re.test(joined)) ?? [
    'observed characters',
    /./,
    Math.max(2, new Set(joined).size),
  ];
  const shortest = Math.min(...varying.map((v) => v.replace(/=+$/, '').length));
  return { bits: shortest * Math.log2(size), alphabet, varying: shortest };
}

export default defineCase({
  id: 'session/device-code-strength',
  title: 'Device codes carry at least 256 bits of randomness',
  feature: 'sign-in',
  requirements: ['SESSION-2'],
  timeoutMs: 20_000,
  async run(ctx) {
    const codes: string[] = [];
    for (let i = 0; i < SAMPLES; i++) codes.push((await ctx.oauth.startDeviceAuthorization()).deviceCode);
    expectThat(
      new Set(codes).size === codes.length,
      'two device authorizations answered the same device_code',
    );
    const { bits, alphabet, varying } = estimateBits(codes);
    expectThat(
      bits >= 256 - 1e-9,
      `device codes hold at most ${bits.toFixed(1)} bits (${varying} varying ${alphabet} characters); at least 256 are required`,
    );
    ctx.note(`device codes: ${varying} varying ${alphabet} characters (≤ ${Math.floor(bits)} bits)`);
  },
});
