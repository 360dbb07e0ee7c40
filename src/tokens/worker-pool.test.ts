import { afterAll, describe, expect, it } from 'vitest';
import { closeTokenWorkers, countPromptTokens, promptTokens, WORKER_THRESHOLD_CHARS } from './estimate.js';
import { realisticText } from './tokens.test-helpers.js';
import { tokenWorkerCount } from './worker-pool.js';

afterAll(async () => {
  await closeTokenWorkers();
});

const chatBody = (content: string) => ({
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'You are a careful reviewer.' },
    { role: 'user', content },
  ],
});

describe('countPromptTokens', () => {
  it('equals promptTokens below the threshold, on the main thread', async () => {
    await closeTokenWorkers();
    const body = chatBody('short question');
    expect(await countPromptTokens('chat', body, 'gpt-4o')).toBe(promptTokens('chat', body, 'gpt-4o'));
    expect(tokenWorkerCount()).toBe(0);
  });

  it('equals promptTokens above the threshold for every shape, counted in a worker', async () => {
    const text = realisticText(WORKER_THRESHOLD_CHARS + 5_000);
    const cases = [
      ['chat', chatBody(text), 'gpt-4o'],
      ['completions', { prompt: [text, 'x'] }, 'gpt-3.5-turbo-instruct'],
      ['embeddings', { input: text }, 'text-embedding-3-small'],
      ['responses', { instructions: 'Be brief.', input: text }, 'gpt-4.1'],
      ['messages', { system: 'S', messages: [{ role: 'user', content: text }] }, 'claude-sonnet-4-5'],
      // Pathological runs are split identically on both paths.
      ['chat', chatBody(`${text} ${'z'.repeat(50_000)}`), 'gpt-4o'],
    ] as const;
    for (const [shape, body, model] of cases) {
      expect(await countPromptTokens(shape, body, model)).toBe(promptTokens(shape, body, model));
    }
    expect(tokenWorkerCount()).toBeGreaterThan(0);
  });

  it('answers concurrent requests each with its own count', async () => {
    const bodies = [1, 2, 3, 4].map((i) => chatBody(realisticText(WORKER_THRESHOLD_CHARS + i * 7_919)));
    const counts = await Promise.all(bodies.map((b) => countPromptTokens('chat', b, 'gpt-4o')));
    expect(counts).toEqual(bodies.map((b) => promptTokens('chat', b, 'gpt-4o')));
  });

  it('counts a 100k-token prompt off the main thread: same result, event loop keeps ticking', async () => {
    // ~4.7 chars per token on this text: 500k chars is just over 100k tokens.
    const body = chatBody(realisticText(500_000));
    // Warm the worker (start-up and encoder load are not what is measured here).
    await countPromptTokens('chat', chatBody(realisticText(WORKER_THRESHOLD_CHARS + 1)), 'gpt-4o');

    const syncStarted = performance.now();
    const syncCount = promptTokens('chat', body, 'gpt-4o');
    const syncMs = performance.now() - syncStarted;
    expect(syncCount).toBeGreaterThan(100_000);

    let last = performance.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks += 1;
    }, 5);
    const started = performance.now();
    const workerCount = await countPromptTokens('chat', body, 'gpt-4o');
    const workerMs = performance.now() - started;
    clearInterval(timer);

    expect(workerCount).toBe(syncCount);
    // The interval kept firing while the worker counted, and no gap came close to the stall a
    // synchronous count causes (measured in this same run, so machine speed cancels out).
    expect(ticks).toBeGreaterThan(2);
    expect(maxGap).toBeLessThan(syncMs / 2);
    expect(workerMs).toBeGreaterThan(0);
  });

  it('falls back to the main thread when the workers are closed mid-count', async () => {
    const body = chatBody(realisticText(200_000));
    const pending = countPromptTokens('chat', body, 'gpt-4o');
    await closeTokenWorkers();
    expect(await pending).toBe(promptTokens('chat', body, 'gpt-4o'));
  });
});
