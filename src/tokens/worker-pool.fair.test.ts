/**
 * The token-count queue is fair and bounded (issue 13): large prompts queued by one caller do not
 * delay another caller's count by more than a batch or so, and one owner cannot queue past its share.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { countTokens } from './encoding.js';
import {
  BATCH_CHARS,
  closeTokenWorkers,
  countSegmentsInWorker,
  countTextsInWorker,
  holdQueueRoom,
  MAX_OWNER_QUEUED_CHARS,
  POOL_SIZE,
  queueHasRoom,
  releaseQueueRoom,
  TokenQueueFull,
  tokenBatchesDispatched,
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
    let floodDone = 0;
    for (const count of flood) void count.then(() => floodDone++);
    const batchesBefore = tokenBatchesDispatched();
    const start = performance.now();
    const tokens = await countSegmentsInWorker(segments(24_000, 'paying'), 'o200k_base', 'paying');
    const behindMs = performance.now() - start;
    const batchesBetween = tokenBatchesDispatched() - batchesBefore;
    console.log(
      `[token queue] 24k-char prompt: ${aloneMs.toFixed(1)} ms alone, ${behindMs.toFixed(1)} ms behind 16 x 1 MB prompts; ${batchesBetween} batches dispatched meanwhile`,
    );
    expect(tokens).toBe(segments(24_000, 'paying').reduce((sum, s) => sum + countTokens(s, 'o200k_base'), 0));
    // No flood prompt finished first (in order of arrival all 16 MB would), and the paying prompt's
    // three batches went next whenever a worker was free: at most the batches in flight on each
    // worker while its own ran (round-robin over 17 counts would be ~50).
    expect(floodDone).toBe(0);
    const ownBatches = Math.ceil(24_000 / BATCH_CHARS);
    expect(batchesBetween).toBeLessThanOrEqual(POOL_SIZE * (ownBatches + 1));
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

  it('holds room for a count that is coming; the count takes it, or the holder gives it back', async () => {
    const text = segments(200_000, 'held').join('');
    expect(holdQueueRoom('req-1', MAX_OWNER_QUEUED_CHARS - 100_000, 'holder')).toBe(true);
    // Taken: a second body of the same owner finds no room, another owner does.
    expect(holdQueueRoom('req-2', 200_000, 'holder')).toBe(false);
    expect(queueHasRoom(200_000, 'someone-else')).toBe(true);
    // The count under req-1's key takes the held room (held and charged again it would not fit).
    expect(await countTextsInWorker([text], 'o200k_base', 'holder', 'req-1')).toBe(
      countTokens(text, 'o200k_base'),
    );
    expect(queueHasRoom(MAX_OWNER_QUEUED_CHARS, 'holder')).toBe(true);
    // Held and never counted (a refused request): given back once, however often released.
    expect(holdQueueRoom('req-3', MAX_OWNER_QUEUED_CHARS, 'holder')).toBe(true);
    expect(queueHasRoom(1, 'holder')).toBe(false);
    releaseQueueRoom('req-3');
    releaseQueueRoom('req-3');
    releaseQueueRoom('req-1');
    expect(queueHasRoom(MAX_OWNER_QUEUED_CHARS, 'holder')).toBe(true);
    expect(holdQueueRoom('req-4', MAX_OWNER_QUEUED_CHARS + 1, 'holder')).toBe(false);
  }, 60_000);
});
