/**
 * An idle token worker exits (its tiktoken copy is most of the gateway's memory), and the next
 * large prompt starts a fresh one with the same count.
 */
import { afterAll, expect, it } from 'vitest';
import { closeTokenWorkers, countPromptTokens, promptTokens, WORKER_THRESHOLD_CHARS } from './estimate.js';
import { realisticText } from './tokens.test-helpers.js';
import { setTokenWorkerIdleMs, tokenWorkerCount } from './worker-pool.js';

afterAll(async () => {
  setTokenWorkerIdleMs(30_000);
  await closeTokenWorkers();
});

const body = (n: number) => ({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: `${n} ${realisticText(WORKER_THRESHOLD_CHARS + 1_000)}` }],
});

it('retires an idle worker and starts a new one for the next large prompt', async () => {
  setTokenWorkerIdleMs(200);
  expect(await countPromptTokens('chat', body(1), 'gpt-4o')).toBe(promptTokens('chat', body(1), 'gpt-4o'));
  expect(tokenWorkerCount()).toBe(1);
  await expect.poll(() => tokenWorkerCount(), { timeout: 5_000 }).toBe(0);
  expect(await countPromptTokens('chat', body(2), 'gpt-4o')).toBe(promptTokens('chat', body(2), 'gpt-4o'));
  expect(tokenWorkerCount()).toBe(1);
});
