import { describe, expect, it, vi } from 'vitest';
import { RetryQueue } from './retry.js';

describe('RetryQueue', () => {
  it('retries with backoff until an attempt succeeds', async () => {
    const queue = new RetryQueue({ baseDelayMs: 2, maxDelayMs: 10 });
    let calls = 0;
    queue.enqueue(async () => ++calls >= 3);
    await vi.waitFor(() => expect(queue.size).toBe(0), { timeout: 1000, interval: 5 });
    expect(calls).toBe(3);
    queue.close();
  });

  it('flushes on demand and drops items past their maximum age', async () => {
    const dropped: number[] = [];
    let now = 1_000_000;
    const queue = new RetryQueue({
      baseDelayMs: 60_000,
      maxAgeMs: 0,
      onDrop: (n) => dropped.push(n),
      clock: () => now,
    });
    queue.enqueue(async () => false);
    queue.enqueue(async () => {
      throw new Error('down');
    });
    now += 1; // both items are now past their maximum age (0 ms)
    expect(await queue.flush()).toBe(0);
    expect(dropped).toEqual([1, 1]);
    queue.close();
  });

  it('ends a round at the first failure (the store is likely still down)', async () => {
    const queue = new RetryQueue({ baseDelayMs: 60_000 });
    let calls = 0;
    queue.enqueue(async () => {
      calls++;
      return false;
    });
    queue.enqueue(async () => {
      calls++;
      return false;
    });
    expect(await queue.flush()).toBe(2);
    expect(calls).toBe(1);
    queue.close();
  });
});
