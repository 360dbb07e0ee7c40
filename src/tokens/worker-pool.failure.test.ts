import { describe, expect, it, vi } from 'vitest';

// A Worker that cannot start: the estimator must still answer, on the main thread.
vi.mock('node:worker_threads', () => ({
  Worker: class {
    constructor() {
      throw new Error('no threads here');
    }
  },
}));

const { countPromptTokens, promptTokens, WORKER_THRESHOLD_CHARS } = await import('./estimate.js');
const { realisticText } = await import('./tokens.test-helpers.js');

describe('countPromptTokens without workers', () => {
  it('counts on the main thread when a worker cannot be created', async () => {
    const body = { messages: [{ role: 'user', content: realisticText(WORKER_THRESHOLD_CHARS * 2) }] };
    for (let i = 0; i < 5; i += 1) {
      expect(await countPromptTokens('chat', body, 'gpt-4o')).toBe(promptTokens('chat', body, 'gpt-4o'));
    }
  });
});
