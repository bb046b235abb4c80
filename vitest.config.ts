import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{spec,reference-impl,conformance,fixtures,scripts,bench}/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
