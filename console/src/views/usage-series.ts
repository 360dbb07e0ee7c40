/**
 * GET /admin/usage rows -> chart series: one x value per bucket over the whole range (empty buckets
 * are zero, so gaps show as gaps), one series per group, biggest spender first.
 */

export type Bucket = 'hour' | 'day';
export type GroupBy = 'model' | 'team' | 'key' | 'user' | 'provider';

export interface UsageRow {
  /** Bucket start, ms since epoch. */
  timeMs: number;
  group: string;
  costUsd: number;
}

export interface UsageSeries {
  /** Bucket starts, seconds since epoch (uPlot's unit). */
  xs: number[];
  groups: { name: string; costs: number[]; total: number }[];
  totalUsd: number;
}

const BUCKET_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };

type Raw = Record<string, unknown>;

const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN);
const time = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN);

/** The rows of a usage answer, whatever the grouping key is called. */
export function usageRows(answer: unknown, groupBy: GroupBy): UsageRow[] {
  const a = (answer ?? {}) as Raw;
  const list = (a.rows ?? a.usage ?? a.buckets ?? a.items ?? a.data ?? []) as Raw[];
  const rows: UsageRow[] = [];
  for (const r of Array.isArray(list) ? list : []) {
    const timeMs = time(r.bucket_start ?? r.start ?? r.bucket ?? r.time ?? r.from);
    const nested = r.group && typeof r.group === 'object' ? (r.group as Raw)[groupBy] : r.group;
    const group = nested ?? r[groupBy] ?? r.value;
    const costUsd = num(r.cost_usd ?? r.cost);
    if (Number.isFinite(timeMs) && Number.isFinite(costUsd)) {
      rows.push({ timeMs, group: group === null || group === undefined ? '(none)' : String(group), costUsd });
    }
  }
  return rows;
}

/** Bucket starts from `fromMs` (aligned down to the bucket, in UTC) until `toMs`. */
export function bucketStarts(fromMs: number, toMs: number, bucket: Bucket): number[] {
  const size = BUCKET_MS[bucket];
  const starts: number[] = [];
  for (let t = Math.floor(fromMs / size) * size; t < toMs; t += size) starts.push(t);
  return starts;
}

export function toSeries(rows: UsageRow[], fromMs: number, toMs: number, bucket: Bucket): UsageSeries {
  const starts = bucketStarts(fromMs, toMs, bucket);
  const index = new Map(starts.map((t, i) => [t, i]));
  const size = BUCKET_MS[bucket];
  const byGroup = new Map<string, number[]>();
  for (const row of rows) {
    const i = index.get(Math.floor(row.timeMs / size) * size);
    if (i === undefined) continue;
    let costs = byGroup.get(row.group);
    if (!costs) {
      costs = starts.map(() => 0);
      byGroup.set(row.group, costs);
    }
    costs[i] = (costs[i] ?? 0) + row.costUsd;
  }
  const groups = [...byGroup]
    .map(([name, costs]) => ({ name, costs, total: costs.reduce((s, c) => s + c, 0) }))
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  return {
    xs: starts.map((t) => t / 1000),
    groups,
    totalUsd: groups.reduce((s, g) => s + g.total, 0),
  };
}

/** Running sums bottom-up, so bars drawn top series first show each group's own slice. */
export function stack(groups: UsageSeries['groups']): number[][] {
  const sums: number[][] = [];
  let below: number[] | undefined;
  for (const g of groups) {
    const acc: number[] = g.costs.map((c, i) => c + (below?.[i] ?? 0));
    sums.push(acc);
    below = acc;
  }
  return sums;
}
