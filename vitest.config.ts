import { defineConfig } from 'vitest/config';

/**
 * Run alone, after everything else: their figures need the gateways to read as fast as the mock
 * provider writes (hundreds of concurrent answers at 400 tokens/s a choice), and a test file
 * beside them on two cores starves the gateway processes until the provider runs past what a
 * metered answer holds (docs/controls.md, "Metered requests": the meter's one assumption).
 */
const ALONE = ['test/e2e/utilization.test.ts'];

export default defineConfig({
  test: {
    // Says at once when redis-server, prometheus or chromium is missing (instead of timeouts).
    globalSetup: ['test/helpers/prerequisites.ts'],
    // The default report, then one line per failed test at the very end (what a log's tail keeps).
    reporters: ['default', './test/helpers/failure-summary.ts'],
    // The Anthropic SDK warns on every call with a model past its end-of-life date: noise that pushes
    // the report out of a CI log's tail (the tests' prices and fixtures are not about that model's life).
    onConsoleLog: (log) => !log.includes('will reach end-of-life'),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start their own servers on free ports; two cores, so keep workers small.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          // Unit and in-process tests sit beside their modules (src/**/foo.test.ts); test/ keeps the
          // shared harness and the scenarios that need more than one module (test/e2e: real processes).
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ALONE,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
