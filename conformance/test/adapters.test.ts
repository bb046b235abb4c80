/**
 * Loading adapters from files: the `reference` name, good modules, and the clear errors for bad ones.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAdapter, validateGatewayUnderTest } from '../src/adapters/load.ts';
import { referenceAdapter, resolveGatewayBin } from '../src/adapters/reference.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocg-adapters-'));
  const files: Record<string, string> = {
    'good.mjs': "export default { name: 'good', async start() { return {}; } };",
    'good.ts':
      "const a: { name: string; start(): Promise<unknown> } = { name: 'typed', start: async () => ({}) };\nexport default a;",
    'no-default.mjs': "export const adapter = { name: 'x', start() {} };",
    'no-start.mjs': "export default { name: 'x' };",
    'empty-name.mjs': "export default { name: ' ', start() {} };",
    'not-object.mjs': 'export default 42;',
    'syntax.mjs': 'export default {',
    'adapter.json': '{}',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadAdapter', () => {
  it('returns the built-in adapter for "reference"', async () => {
    expect(await loadAdapter('reference')).toBe(referenceAdapter);
  });

  it.each([
    ['good.mjs', 'good'],
    ['good.ts', 'typed'],
  ])('loads %s', async (file, name) => {
    expect((await loadAdapter(file, dir)).name).toBe(name);
  });

  it.each([
    ['missing.ts', /no such file/],
    ['adapter.json', /expected an ES module file/],
    ['no-default.mjs', /has no default export/],
    ['no-start.mjs', /`start` must be a function/],
    ['empty-name.mjs', /`name` must be a non-empty string/],
    ['not-object.mjs', /default export must be an object/],
    ['syntax.mjs', /failed to import/],
  ])('refuses %s', async (file, message) => {
    await expect(loadAdapter(file, dir)).rejects.toMatchObject({ code: 'ERR_ADAPTER_INVALID', message });
  });
});

describe('validateGatewayUnderTest', () => {
  const stop = async () => {};
  it.each([
    ['no object', null, /no object/],
    ['a relative baseUrl', { baseUrl: '/x', bearer: 'b', stop }, /baseUrl/],
    ['an empty bearer', { baseUrl: 'http://x', bearer: '', stop }, /bearer/],
    ['no stop', { baseUrl: 'http://x', bearer: 'b' }, /stop/],
    ['bad features', { baseUrl: 'http://x', bearer: 'b', stop, features: 'inference' }, /features/],
    ['bad limit', { baseUrl: 'http://x', bearer: 'b', stop, maxRequestBodyBytes: -1 }, /maxRequestBodyBytes/],
  ])('refuses %s', (_what, value, message) => {
    expect(() => validateGatewayUnderTest(value, 'a')).toThrow(message);
  });
  it('accepts a complete gateway', () => {
    expect(() =>
      validateGatewayUnderTest({ baseUrl: 'http://x', bearer: 'b', stop, features: ['inference'] }, 'a'),
    ).not.toThrow();
  });
});

describe('the reference adapter', () => {
  it("finds the gateway through @ocg/gateway's package.json bin", async () => {
    expect(await resolveGatewayBin()).toMatch(/reference-impl\/src\/main\.ts$/);
  });
});
