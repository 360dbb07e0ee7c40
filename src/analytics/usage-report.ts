/**
 * GET /admin/usage: rollups summed into hour or day buckets (UTC), optionally grouped by one or
 * more dimensions. Rollups are hourly, so the range is widened to whole hours.
 *
 * `session` (the agent session of a request) is not a rollup dimension: sessions are many and
 * short-lived, and one rollup row per session and hour would multiply the rollups. Grouped by
 * session, the report is summed from the request ledger instead (ledgerUsageRows), so it covers the
 * ledger's retention (history.ledger_retention_days), not the rollups'.
 */
import { HOUR_MS, hourOf, type LedgerEntry, type RollupRow, type UsageCounters } from '../store/history.js';
import { addCounters, zeroCounters } from './records.js';

export const DIMENSIONS = ['model', 'key', 'user', 'team', 'provider', 'session'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** A row the report sums: a rollup row, or one ledger entry as a row with its session. */
export type UsageRow = RollupRow & { session?: string };

/** Whether the query needs the ledger (a dimension the rollups do not keep). */
export function needsLedger(groupBy: readonly Dimension[]): boolean {
  return groupBy.includes('session');
}

/** Each ledger entry as a one-request row, keyed like rollupsOf keys them, plus its session. */
export async function* ledgerUsageRows(entries: AsyncIterable<LedgerEntry>): AsyncIterable<UsageRow> {
  for await (const e of entries) {
    yield {
      hourMs: hourOf(e.timeMs),
      key: e.keyId ?? '',
      user: e.user ?? '',
      team: e.team ?? '',
      model: e.servedModel ?? e.requestedModel ?? '',
      provider: e.provider ?? '',
      session: e.session ?? '',
      short: false,
      requests: 1,
      errors: e.status >= 400 ? 1 : 0,
      inputTokens: e.inputTokens,
      cachedInputTokens: e.cachedInputTokens,
      cacheWriteTokens: e.cacheWriteTokens,
      outputTokens: e.outputTokens,
      reasoningTokens: e.reasoningTokens,
      costNano: e.costNano,
    };
  }
}
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
  /** Where the sums come from: the hourly rollups, or the request ledger (grouped by session). */
  source: 'rollups' | 'ledger';
}

const DAY_MS = 24 * HOUR_MS;

/** The query's range widened to whole hours: what the rollups can answer. */
export function hourRange(fromMs: number, toMs: number): { fromMs: number; toMs: number } {
  return { fromMs: Math.floor(fromMs / HOUR_MS) * HOUR_MS, toMs: Math.ceil(toMs / HOUR_MS) * HOUR_MS };
}

export async function usageReport(
  rows: AsyncIterable<UsageRow>,
  query: UsageQuery,
  source: UsageReport['source'] = 'rollups',
): Promise<UsageReport> {
  const size = query.bucket === 'day' ? DAY_MS : HOUR_MS;
  const buckets = new Map<string, UsageBucketRow>();
  const total = zeroCounters();
  for await (const row of rows) {
    const startMs = Math.floor(row.hourMs / size) * size;
    const group: Partial<Record<Dimension, string>> = {};
    for (const dimension of query.groupBy) group[dimension] = row[dimension] ?? '';
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
  return { fromMs: query.fromMs, toMs: query.toMs, rows: sorted, total, source };
}
