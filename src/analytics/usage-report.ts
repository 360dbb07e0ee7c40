/**
 * GET /admin/usage: rollups summed into hour or day buckets (UTC), optionally grouped by one or
 * more dimensions. Rollups are hourly, so the range is widened to whole hours.
 */
import { HOUR_MS, type RollupRow, type UsageCounters } from '../store/history.js';
import { addCounters, zeroCounters } from './records.js';

export const DIMENSIONS = ['model', 'key', 'user', 'team', 'provider'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Bucket = 'hour' | 'day';

export interface UsageQuery {
  fromMs: number;
  toMs: number;
  bucket: Bucket;
  groupBy: readonly Dimension[];
}

export interface UsageBucketRow {
  startMs: number;
  /** Values of the grouped dimensions ('' where a request had none). */
  group: Partial<Record<Dimension, string>>;
  counters: UsageCounters;
}

export interface UsageReport {
  fromMs: number;
  toMs: number;
  rows: UsageBucketRow[];
  total: UsageCounters;
}

const DAY_MS = 24 * HOUR_MS;

/** The query's range widened to whole hours: what the rollups can answer. */
export function hourRange(fromMs: number, toMs: number): { fromMs: number; toMs: number } {
  return { fromMs: Math.floor(fromMs / HOUR_MS) * HOUR_MS, toMs: Math.ceil(toMs / HOUR_MS) * HOUR_MS };
}

export async function usageReport(rows: AsyncIterable<RollupRow>, query: UsageQuery): Promise<UsageReport> {
  const size = query.bucket === 'day' ? DAY_MS : HOUR_MS;
  const buckets = new Map<string, UsageBucketRow>();
  const total = zeroCounters();
  for await (const row of rows) {
    const startMs = Math.floor(row.hourMs / size) * size;
    const group: Partial<Record<Dimension, string>> = {};
    for (const dimension of query.groupBy) group[dimension] = row[dimension];
    const id = JSON.stringify([startMs, group]);
    let bucket = buckets.get(id);
    if (!bucket) {
      bucket = { startMs, group, counters: zeroCounters() };
      buckets.set(id, bucket);
    }
    addCounters(bucket.counters, row);
    addCounters(total, row);
  }
  const sorted = [...buckets.values()].sort(
    (a, b) =>
      a.startMs - b.startMs ||
      b.counters.costNano - a.counters.costNano ||
      b.counters.requests - a.counters.requests,
  );
  return { fromMs: query.fromMs, toMs: query.toMs, rows: sorted, total };
}
