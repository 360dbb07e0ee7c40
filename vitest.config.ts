import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start their own servers on free ports; two cores, so keep workers small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
