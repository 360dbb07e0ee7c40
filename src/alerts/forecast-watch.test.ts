/**
 * The forecast watch on its own, with a real SQLite store deciding who raises the alert: when it
 * forecasts, what it leaves alone (young periods, small spend, exhausted, prepaid and "*" budgets),
 * how often it looks at a line, once per period across watchers (instances), and not before an
 * hour of observed history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SettledLine } from '../budget/engine.js';
import type { ForecastEvidenceRule } from '../budget/forecast-evidence.js';
import { periodOf, ttlSecondsFor } from '../budget/periods.js';
import { compileBudget } from '../config/budgets.js';
import type { BudgetConfig } from '../config/schema.js';
import { SqliteStore } from '../store/sqlite/budget.js';
import type { BudgetStore } from '../store/types.js';
import type { AlertInput } from './event.js';
import { ForecastWatch, type ForecastWatchOptions } from './forecast-watch.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function sqlite(): SqliteStore {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  return store;
}

const NOON = Date.UTC(2026, 10, 20, 12, 0, 0);
const LIMIT = 10_000_000_000; // $10

function settled(budget: Partial<BudgetConfig>, spentNano: number, nowMs = NOON): SettledLine {
  const compiled = compileBudget(
    {
      id: 'daily',
      scope: { team: 'web' },
      limit_usd: 10,
      period: 'daily',
      timezone: 'UTC',
      thresholds: [],
      ...budget,
    },
    'config',
  );
  const period = periodOf(compiled.period, compiled.timezone, nowMs);
  return {
    budget: compiled,
    line: {
      instance: compiled.id,
      budgetId: compiled.id,
      period: period.id,
      previousPeriod: null,
      limitNano: compiled.limitNano,
      rolloverMaxNano: 0,
      downgradeAtNano: -1,
      ttlSeconds: ttlSecondsFor(compiled.period),
    },
    balance: { limitNano: compiled.limitNano, spentNano, reservedNano: 0 },
  };
}

const MIDNIGHT = Date.UTC(2026, 10, 20, 0, 0, 0);
/** The other guards are tested with the wait for observed history off; it has its own test. */
const NO_WAIT: ForecastEvidenceRule = { minHistoryMs: 0, minPeriodFraction: 0 };

function watch(
  store: Pick<BudgetStore, 'claimOnce'>,
  raised: AlertInput[],
  intervalMs = 5000,
  options: Partial<ForecastWatchOptions> = {},
) {
  return new ForecastWatch({
    store,
    emit: (a) => raised.push(a),
    intervalMs,
    observedSinceMs: MIDNIGHT,
    evidence: () => NO_WAIT,
    ...options,
  });
}

describe('forecast watch', () => {
  it('forecasts when the burn rate runs the budget out before the period ends', async () => {
    const raised: AlertInput[] = [];
    // 60% spent by noon: 120% projected, out at 20:00.
    const w = watch(sqlite(), raised);
    w.observe([settled({}, 0.6 * LIMIT)], NOON);
    await w.idle();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({
      type: 'forecast',
      budgetId: 'daily',
      instance: 'daily',
      period: '2026-11-20',
      spentNano: 0.6 * LIMIT,
      limitNano: LIMIT,
      projectedNano: 1.2 * LIMIT,
      exhaustedAtMs: Date.UTC(2026, 10, 20, 20, 0, 0),
      timeMs: NOON,
    });
  });

  it('leaves alone: on-track spend, small spend, a young period, exhausted, prepaid and "*" budgets', async () => {
    const raised: AlertInput[] = [];
    const store = sqlite();
    const midnight = MIDNIGHT;
    const watchers: ForecastWatch[] = [];
    const watched = () => {
      const w = watch(store, raised);
      watchers.push(w);
      return w;
    };
    const cases: Array<[SettledLine, number]> = [
      [settled({ id: 'on-track' }, 0.4 * LIMIT), NOON], // 80% projected
      // 4% spent 40 minutes in would project 144%, but 4% is too little to extrapolate from.
      [settled({ id: 'small' }, 0.04 * LIMIT, midnight + 40 * 60_000), midnight + 40 * 60_000],
      // 30% spent 10 minutes in: the period is too young (under 2% of it has passed).
      [settled({ id: 'young' }, 0.3 * LIMIT, midnight + 10 * 60_000), midnight + 10 * 60_000],
      [settled({ id: 'exhausted' }, LIMIT), NOON], // the exhausted alert says it
      [settled({ id: 'prepaid', period: 'none' }, 0.9 * LIMIT), NOON], // no period end
      [settled({ id: 'per-user', scope: { user: '*' } }, 0.9 * LIMIT), NOON], // one per user: noise
    ];
    for (const [line, now] of cases) watched().observe([line], now);
    // The same small and young spends, later in the day, do forecast: the guards were what held them.
    const later: Array<[SettledLine, number]> = [
      [settled({ id: 'small-later' }, 0.06 * LIMIT, midnight + 40 * 60_000), midnight + 40 * 60_000],
      [settled({ id: 'young-later' }, 0.3 * LIMIT, midnight + 60 * 60_000), midnight + 60 * 60_000],
    ];
    for (const [line, now] of later) watched().observe([line], now);
    await Promise.all(watchers.map((w) => w.idle()));
    expect(raised.map((a) => a.budgetId).sort()).toEqual(['small-later', 'young-later']);
  });

  it('looks at a line at most once per interval, and raises at most once per period', async () => {
    const raised: AlertInput[] = [];
    const w = watch(sqlite(), raised, 5000);
    w.observe([settled({}, 0.4 * LIMIT)], NOON); // looked at: on track
    w.observe([settled({}, 0.7 * LIMIT)], NOON + 1000); // within the interval: not looked at
    await w.idle();
    expect(raised).toEqual([]);
    w.observe([settled({}, 0.7 * LIMIT)], NOON + 6000); // looked at: forecast
    await w.idle();
    expect(raised).toHaveLength(1);
    w.observe([settled({}, 0.8 * LIMIT)], NOON + 60_000);
    await w.idle();
    expect(raised).toHaveLength(1);
    // The next day is another period: it may forecast again.
    const tomorrow = NOON + 86_400_000;
    w.observe([settled({}, 0.7 * LIMIT, tomorrow)], tomorrow);
    await w.idle();
    expect(raised).toHaveLength(2);
    expect(raised[1]?.period).toBe('2026-11-21');
  });

  it('lets the store pick one watcher per period (instances sharing a store)', async () => {
    const store = sqlite();
    const raised: AlertInput[] = [];
    const watchers = [watch(store, raised), watch(store, raised), watch(store, raised)];
    for (const w of watchers) w.observe([settled({}, 0.7 * LIMIT)], NOON);
    await Promise.all(watchers.map((w) => w.idle()));
    expect(raised).toHaveLength(1);
  });

  it('tries again later when the store could not answer the claim', async () => {
    const raised: AlertInput[] = [];
    let down = true;
    const store = sqlite();
    const flaky: Pick<BudgetStore, 'claimOnce'> = {
      claimOnce: (...args) => (down ? Promise.reject(new Error('store down')) : store.claimOnce(...args)),
    };
    const w = watch(flaky, raised, 1000);
    w.observe([settled({}, 0.7 * LIMIT)], NOON);
    await w.idle();
    expect(raised).toEqual([]);
    down = false;
    w.observe([settled({}, 0.7 * LIMIT)], NOON + 2000);
    await w.idle();
    expect(raised).toHaveLength(1);
  });

  it('waits for an hour of observed history: from the period start or its own start, whichever is later', async () => {
    const store = sqlite();
    const raised: AlertInput[] = [];
    const rule = { minHistoryMs: 3_600_000, minPeriodFraction: 0.05 };
    // A gateway that started at noon sees 60% spent (120% projected) but has watched for minutes.
    const fresh = watch(store, raised, 1000, { observedSinceMs: NOON, evidence: () => rule });
    fresh.observe([settled({}, 0.6 * LIMIT, NOON + 59 * 60_000)], NOON + 59 * 60_000);
    await fresh.idle();
    expect(raised).toEqual([]);
    fresh.observe([settled({}, 0.6 * LIMIT, NOON + 60 * 60_000)], NOON + 60 * 60_000);
    await fresh.idle();
    expect(raised).toHaveLength(1);

    // Watching since yesterday does not help 59 minutes into a period (the first minutes of a month).
    const monthStart = Date.UTC(2026, 11, 1);
    const early = { minHistoryMs: 3_600_000, minPeriodFraction: 0.05 };
    const old = watch(store, raised, 1000, {
      observedSinceMs: monthStart - 86_400_000,
      evidence: () => early,
      minSpentRatio: 0,
      minElapsedRatio: 0,
    });
    const spend = (at: number) => [settled({ id: 'monthly', period: 'monthly' }, 0.3 * LIMIT, at)];
    old.observe(spend(monthStart + 59 * 60_000), monthStart + 59 * 60_000);
    await old.idle();
    expect(raised).toHaveLength(1);
    // The rule is the config's, read at each look: without the wait it forecasts.
    early.minHistoryMs = 0;
    old.observe(spend(monthStart + 61 * 60_000), monthStart + 61 * 60_000);
    await old.idle();
    expect(raised.map((a) => a.budgetId)).toEqual(['daily', 'monthly']);
  });

  it('observes from its first look when not told when it started', async () => {
    const raised: AlertInput[] = [];
    const w = watch(sqlite(), raised, 1000, {
      observedSinceMs: undefined,
      evidence: () => ({ minHistoryMs: 3_600_000, minPeriodFraction: 0.05 }),
    });
    w.observe([settled({}, 0.6 * LIMIT)], NOON);
    w.observe([settled({}, 0.6 * LIMIT, NOON + 30 * 60_000)], NOON + 30 * 60_000);
    await w.idle();
    expect(raised).toEqual([]);
    w.observe([settled({}, 0.6 * LIMIT, NOON + 61 * 60_000)], NOON + 61 * 60_000);
    await w.idle();
    expect(raised).toHaveLength(1);
  });
});
