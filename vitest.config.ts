import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Unit and in-process tests sit beside their modules (src/**/foo.test.ts); test/ keeps the
    // shared harness and the scenarios that need more than one module (test/e2e: real processes).
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Says at once when redis-server, prometheus or chromium is missing (instead of timeouts).
    globalSetup: ['test/helpers/prerequisites.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start their own servers on free ports; two cores, so keep workers small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
