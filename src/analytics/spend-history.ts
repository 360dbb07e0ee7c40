/**
 * Hourly spend per budget line and per key, folded from the rollups with the budgets' own scope
 * matching (so a "*" budget's instance ids come out exactly as the engine names them).
 *
 * Forecasts read up to a month of hours every minute, so folded hours are cached once they are
 * final: an hour is final when no request that started in it can still be settling (request
 * timeout plus a margin for the recorders' flush). The cache belongs to one config: budgets
 * changed by a reload are folded again.
 */
import { matchBudget } from '../budget/scopes.js';
import type { RuntimeBudget, RuntimeConfig } from '../config/runtime.js';
import { type HistoryStore, HOUR_MS, hourOf } from '../store/history.js';

/** One hour's spend: per budget line (instance id) and per key id, nano-USD; only non-zero entries. */
export interface FoldedHour {
  lines: Map<string, number>;
  keys: Map<string, number>;
}

export interface SpendWindow {
  /** Hourly spend of a line over [fromMs, toMs) (hour starts), zeros included, oldest first. */
  lineSeries(instance: string, fromMs: number, toMs: number): number[];
  keySeries(keyId: string, fromMs: number, toMs: number): number[];
  /** Key ids that spent anything in [fromMs, toMs). */
  keysIn(fromMs: number, toMs: number): string[];
  /** Spend of one hour. */
  hour(hourMs: number): FoldedHour | undefined;
}

/** Budgets whose history is folded: the config's, and the trial budget when trials are on. */
export function trackedBudgets(cfg: RuntimeConfig): RuntimeBudget[] {
  return cfg.anonymous.enabled ? [...cfg.budgets, cfg.anonymous.budget] : cfg.budgets;
}

/** Ledger lag past the request timeout before an hour counts as final. */
const FINAL_MARGIN_MS = 5 * 60_000;
/** Hours kept in the cache: a month and a week, the longest window any caller asks for. */
const CACHE_HOURS = 40 * 24;

export class SpendHistory {
  private cache = new Map<number, FoldedHour>();
  private cachedFor: RuntimeConfig | undefined;

  constructor(private readonly store: HistoryStore) {}

  /** Drops cached hours (after history was written in the past, e.g. by an import or a test). */
  invalidate(): void {
    this.cache.clear();
  }

  /** Folds the hours in [fromMs, toMs) (rounded out to whole hours), cached ones from memory. */
  async load(cfg: RuntimeConfig, fromMs: number, toMs: number, nowMs: number): Promise<SpendWindow> {
    if (this.cachedFor !== cfg) {
      this.cache.clear();
      this.cachedFor = cfg;
    }
    const first = hourOf(fromMs);
    const end = hourOf(toMs - 1) + HOUR_MS;
    const finalBefore = nowMs - cfg.server.requestTimeoutMs - FINAL_MARGIN_MS;
    const hours = new Map<number, FoldedHour>();
    const budgets = trackedBudgets(cfg);
    const tags = tagsByKey(cfg);

    // Read the hours missing from the cache as ranges of consecutive hours, one store scan each.
    let rangeStart: number | undefined;
    const ranges: Array<[number, number]> = [];
    for (let h = first; h < end; h += HOUR_MS) {
      const cached = this.cache.get(h);
      if (cached) {
        hours.set(h, cached);
        if (rangeStart !== undefined) ranges.push([rangeStart, h]);
        rangeStart = undefined;
      } else if (rangeStart === undefined) rangeStart = h;
    }
    if (rangeStart !== undefined) ranges.push([rangeStart, end]);

    for (const [from, to] of ranges) {
      for (let h = from; h < to; h += HOUR_MS) hours.set(h, { lines: new Map(), keys: new Map() });
      for await (const row of this.store.rollups(from, to)) {
        if (row.costNano === 0) continue;
        const folded = hours.get(row.hourMs);
        if (!folded) continue;
        if (row.key) add(folded.keys, row.key, row.costNano);
        const attrs = {
          keyId: row.key,
          user: row.user || undefined,
          team: row.team || undefined,
          model: row.model,
          provider: row.provider,
          tags: tags.get(row.key) ?? [],
        };
        for (const budget of budgets) {
          for (const line of matchBudget(budget, attrs)) add(folded.lines, line.instance, row.costNano);
        }
      }
      for (let h = from; h < to; h += HOUR_MS) {
        if (h + HOUR_MS <= finalBefore) this.cache.set(h, hours.get(h)!);
      }
    }
    this.evict(nowMs);
    return windowOf(hours);
  }

  private evict(nowMs: number): void {
    const oldest = hourOf(nowMs) - CACHE_HOURS * HOUR_MS;
    for (const hour of this.cache.keys()) if (hour < oldest) this.cache.delete(hour);
  }
}

function add(map: Map<string, number>, id: string, nano: number): void {
  map.set(id, (map.get(id) ?? 0) + nano);
}

/** Tags are attributes of keys, not of requests: read them from the keys the config knows. */
function tagsByKey(cfg: RuntimeConfig): Map<string, readonly string[]> {
  const tags = new Map<string, readonly string[]>();
  for (const key of cfg.keysByHash.values()) if (key.tags.length > 0) tags.set(key.id, key.tags);
  return tags;
}

function windowOf(hours: Map<number, FoldedHour>): SpendWindow {
  const series = (pick: (h: FoldedHour) => Map<string, number>, id: string, fromMs: number, toMs: number) => {
    const out: number[] = [];
    for (let h = hourOf(fromMs); h < toMs; h += HOUR_MS) {
      const folded = hours.get(h);
      out.push(folded ? (pick(folded).get(id) ?? 0) : 0);
    }
    return out;
  };
  return {
    lineSeries: (instance, fromMs, toMs) => series((h) => h.lines, instance, fromMs, toMs),
    keySeries: (keyId, fromMs, toMs) => series((h) => h.keys, keyId, fromMs, toMs),
    keysIn(fromMs, toMs) {
      const ids = new Set<string>();
      for (const [hour, folded] of hours) {
        if (hour >= fromMs && hour < toMs) for (const id of folded.keys.keys()) ids.add(id);
      }
      return [...ids].sort();
    },
    hour: (hourMs) => hours.get(hourMs),
  };
}
