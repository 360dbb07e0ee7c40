/**
 * The token-count queue is fair and bounded (issue 13): large prompts queued by one caller do not
 * delay another caller's count by more than a batch or so, and one owner cannot queue past its share.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeTokenWorkers,
  countSegmentsInWorker,
  MAX_OWNER_QUEUED_CHARS,
  queueHasRoom,
  TokenQueueFull,
} from './worker-pool.js';

/** `chars` of prose cut into 100-character pieces (what tokenizerSegments hands the worker). */
function segments(chars: number, seed: string): string[] {
  const text = `${seed} budgets keep spend inside limits while the gateway counts every token. `;
  const out: string[] = [];
  for (let n = 0; n < chars; n += 100) out.push(text.repeat(2).slice(0, 100));
  return out;
}

afterAll(async () => {
  await closeTokenWorkers();
});

describe('token count queue', () => {
  it("a paying key's prompt is not held behind 16 oversized prompts of refused callers", async () => {
    // Warm the workers first: the cold start is not what is measured.
    await countSegmentsInWorker(segments(40_000, 'warm'), 'o200k_base', 'warm');
    const alone = performance.now();
    await countSegmentsInWorker(segments(24_000, 'paying'), 'o200k_base', 'paying');
    const aloneMs = performance.now() - alone;

    const flood = Array.from({ length: 16 }, (_, i) =>
      countSegmentsInWorker(segments(1_000_000, `flood-${i}`), 'o200k_base', `anon-${i}`),
    );
    const start = performance.now();
    const tokens = await countSegmentsInWorker(segments(24_000, 'paying'), 'o200k_base', 'paying');
    const behindMs = performance.now() - start;
    console.log(
      `[token queue] 24k-char prompt: ${aloneMs.toFixed(1)} ms alone, ${behindMs.toFixed(1)} ms behind 16 x 1 MB prompts`,
    );
    expect(tokens).toBeGreaterThan(0);
    // At most the batch in flight (8k chars) before its own: about twice its time alone (the
    // machine's load varies), against seconds when the prompts queued whole.
    expect(behindMs).toBeLessThan(aloneMs * 3 + 50);
    await Promise.all(flood);
  }, 60_000);

  it("refuses at once what passes one owner's share of the queue", async () => {
    const mb = 1024 * 1024;
    const count = Math.floor(MAX_OWNER_QUEUED_CHARS / mb) + 4;
    const counts = Array.from({ length: count }, () =>
      countSegmentsInWorker(segments(mb, 'greedy'), 'o200k_base', 'greedy'),
    );
    // What is asked before a prompt is split (tokens/estimate.ts): no room for this owner, room for others.
    expect(queueHasRoom(mb, 'greedy')).toBe(false);
    expect(queueHasRoom(mb, 'other')).toBe(true);
    const results = await Promise.allSettled(counts);
    expect(queueHasRoom(mb, 'greedy')).toBe(true);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(4);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TokenQueueFull);
    // Another owner still gets its turn.
    expect(await countSegmentsInWorker(segments(1000, 'other'), 'o200k_base', 'other')).toBeGreaterThan(0);
  }, 60_000);
});
