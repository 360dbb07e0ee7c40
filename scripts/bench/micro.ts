/**
 * The in-process figures the bench reports beside its HTTP runs: o200k_base tokenizer throughput
 * (issue 2) and reserve+settle latency per store (issue 3), measured the way
 * scripts/bench-tokens.ts and scripts/bench-store.ts do, at a size that fits the bench's budget.
 */
import { join } from 'node:path';
import { RedisStore } from '../../src/store/redis/budget.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import type { BudgetStore, LineSpec } from '../../src/store/types.js';
import { countTokens } from '../../src/tokens/encoding.js';
import { type Summary, summarize } from './stats.js';
import { benchText } from './workload.js';

export interface TokenizerFigure {
  encoding: 'o200k_base';
  chars: number;
  tokens: number;
  tokensPerSecond: number;
}

export function tokenizerThroughput(chars: number): TokenizerFigure {
  const sample = benchText(chars);
  countTokens(sample.slice(0, 10_000), 'o200k_base'); // loads the encoder
  const runs: number[] = [];
  let tokens = 0;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    tokens = countTokens(sample, 'o200k_base');
    runs.push(performance.now() - started);
  }
  const ms = summarize(runs).p50;
  return { encoding: 'o200k_base', chars, tokens, tokensPerSecond: Math.round((tokens / ms) * 1000) };
}

export interface StoreFigure {
  store: 'sqlite' | 'redis';
  lines: number;
  /** reserve + settle of one request, in sequence, ms. */
  sequential: Summary;
  /** The same at concurrency 64, ms. */
  concurrent: Summary;
  pairsPerSecond: number;
}

const LINES: LineSpec[] = ['key:bench', 'team:bench', 'per-user|user=bench-user', 'global'].map(
  (instance) => ({
    instance,
    budgetId: instance,
    period: '2026-11',
    previousPeriod: null,
    limitNano: 1e15,
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 40 * 86400,
  }),
);

let sequence = 0;
async function pair(store: BudgetStore): Promise<number> {
  const id = `bench-${process.pid}-${sequence++}`;
  const started = performance.now();
  const now = Date.now();
  const reserved = await store.reserve({
    reservationId: id,
    lines: LINES,
    fixedPico: 40 * 150_000,
    outputPico: 600_000,
    requestedCap: 256,
    minCap: 256,
    nowMs: now,
    leaseExpiresAtMs: now + 120_000,
  });
  if (reserved.status !== 'reserved') throw new Error(`store answered ${reserved.status}`);
  await store.settle(id, Math.floor(reserved.amountNano / 4));
  return performance.now() - started;
}

/** `total` reserve+settle pairs on four lines, `concurrency` at a time: latency summary and pairs/s. */
export async function pairs(store: BudgetStore, total: number, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) latencies.push(await pair(store));
    }),
  );
  return { summary: summarize(latencies), perSecond: total / ((performance.now() - started) / 1000) };
}

async function measure(name: StoreFigure['store'], store: BudgetStore, count: number): Promise<StoreFigure> {
  await pairs(store, Math.min(500, count), 8); // warm-up
  const sequential = await pairs(store, count, 1);
  const concurrent = await pairs(store, count * 2, 64);
  await store.close();
  return {
    store: name,
    lines: LINES.length,
    sequential: sequential.summary,
    concurrent: concurrent.summary,
    pairsPerSecond: Math.round(concurrent.perSecond),
  };
}

export async function storeLatencies(dir: string, redisUrl: string, count: number): Promise<StoreFigure[]> {
  return [
    await measure('sqlite', new SqliteStore({ path: join(dir, 'store-bench.db') }), count),
    await measure('redis', new RedisStore({ url: redisUrl, prefix: 'storebench', timeoutMs: 5000 }), count),
  ];
}
