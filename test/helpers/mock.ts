/** Test convenience around the mock provider: re-exports and a per-file fixture. */
import { afterAll, beforeAll } from 'vitest';
import { type MockProvider, type MockProviderOptions, startMockProvider } from '../../src/mock/server.js';

export type {
  MockProvider,
  MockProviderOptions,
  ReportedUsage,
  ServedRecord,
} from '../../src/mock/server.js';
export { startMockProvider } from '../../src/mock/server.js';

/**
 * Starts a mock provider before the file's tests and closes it after. Read `.current` inside
 * tests (it is set once beforeAll ran).
 */
export function useMockProvider(options?: MockProviderOptions): { readonly current: MockProvider } {
  let mock: MockProvider | undefined;
  beforeAll(async () => {
    mock = await startMockProvider(options);
  });
  afterAll(async () => {
    await mock?.close();
  });
  return {
    get current(): MockProvider {
      if (!mock) throw new Error('mock provider not started yet (use it inside a test or hook)');
      return mock;
    },
  };
}
