/**
 * The budget snapshot behind the budget gauges, against a real SQLite store: one line per
 * config budget, "*" budgets summarised, the exhaustion forecast, caching, and store failures.
 */
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { eventually } from '../../test/helpers/stack.js';
import { parseConfig } from '../config/load.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { SqliteStore } from '../store/sqlite/budget.js';
import type { BudgetStore, LineSpec } from '../store/types.js';
import { periodOf } from './periods.js';
import { instanceId } from './scopes.js';
import { createBudgetSnapshots } from './snapshot.js';

/** Mid-November 2026 (UTC): 15 of the month's 30 days have passed. */
const NOW = Date.UTC(2026, 10, 16);
const DAY_S = 86_400;

const CONFIG = `
store: { type: sqlite, path: ":memory:" }
providers: { openai: { kind: openai, base_url: "http://127.0.0.1:1/v1" } }
models: { m: { provider: openai, input: 1, output: 1 } }
budgets:
  - { id: team-web, scope: { team: web }, limit_usd: 10, period: monthly }
  - { id: credits, scope: { key: batch }, limit_usd: 1, period: none }
  - { id: per-user, scope: { user: "*" }, limit_usd: 1, period: daily }
  - { id: idle, scope: global, limit_usd: 5, period: weekly }
`;

let store: SqliteStore;
let config: RuntimeConfig;

function spec(budgetId: string, instance = budgetId): LineSpec {
  const budget = config.budgets.find((b) => b.id === budgetId)!;
  return {
    instance,
    budgetId,
    period: periodOf(budget.period, budget.timezone, NOW).id,
    previousPeriod: null,
    limitNano: budget.limitNano,
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
  };
}

let nextId = 0;
/** Reserves `usd` on the line and, unless `settle` is false, settles it at that amount. */
async function spend(line: LineSpec, usd: number, settle = true): Promise<void> {
  const nano = Math.round(usd * 1e9);
  const id = `r${nextId++}`;
  const result = await store.reserve({
    reservationId: id,
    lines: [line],
    fixedPico: nano * 1000,
    outputPico: 0,
    requestedCap: 0,
    minCap: 0,
    nowMs: NOW,
    leaseExpiresAtMs: NOW + 3_600_000,
  });
  expect(result.status).toBe('reserved');
  if (settle) expect((await store.settle(id, nano)).status).toBe('settled');
}

const user = (name: string) => spec('per-user', instanceId('per-user', [['user', name]]));

beforeEach(() => {
  config = parseConfig(CONFIG, 'test', {});
  store = new SqliteStore({ path: ':memory:' });
});

afterEach(async () => {
  await store.close().catch(() => {});
});

describe('budget snapshot', () => {
  it('has one line per config budget and one summary per "*" budget', async () => {
    await spend(spec('team-web'), 7.5);
    await spend(spec('credits'), 0.5);
    await spend(user('alice'), 1);
    await spend(user('bob'), 0.25);
    await spend(user('carol'), 0.1, false);

    const snapshot = await createBudgetSnapshots({ config: () => config, store, clock: () => NOW }).current();
    expect(snapshot).not.toBeNull();
    const lines = new Map(snapshot!.lines.map((l) => [l.budgetId, l]));
    expect([...lines.keys()]).toEqual(['team-web', 'credits', 'idle']);

    // 7.5 of 10 spent in 15 days: 0.5 a day, so the 2.5 left last 5 more days.
    expect(lines.get('team-web')).toMatchObject({
      period: '2026-11',
      limitNano: 10e9,
      spentNano: 7.5e9,
      reservedNano: 0,
      remainingRatio: 0.25,
    });
    expect(lines.get('team-web')!.exhaustionEtaSeconds).toBeCloseTo(5 * DAY_S, 3);
    // Prepaid: no period to average a burn rate over.
    expect(lines.get('credits')).toMatchObject({
      period: 'all',
      remainingRatio: 0.5,
      exhaustionEtaSeconds: null,
    });
    // Nothing spent: lasts the period.
    expect(lines.get('idle')).toMatchObject({ spentNano: 0, remainingRatio: 1, exhaustionEtaSeconds: null });

    expect(snapshot!.templates).toEqual([
      {
        budgetId: 'per-user',
        period: '2026-11-16',
        instances: 3,
        spentNano: 1.25e9,
        reservedNano: 0.1e9,
        minRemainingRatio: 0,
        exhaustedInstances: 1,
      },
    ]);
  });

  it('reports an exhausted budget as due now, and a template without instances as untouched', async () => {
    await spend(spec('credits'), 1);
    const snapshot = await createBudgetSnapshots({ config: () => config, store, clock: () => NOW }).current();
    expect(snapshot!.lines.find((l) => l.budgetId === 'credits')).toMatchObject({
      remainingRatio: 0,
      exhaustionEtaSeconds: 0,
    });
    expect(snapshot!.templates[0]).toMatchObject({ instances: 0, spentNano: 0, minRemainingRatio: 1 });
  });

  it('takes the exhaustion time from a forecaster when one is given', async () => {
    await spend(spec('team-web'), 1);
    const seen: string[] = [];
    const snapshot = await createBudgetSnapshots({
      config: () => config,
      store,
      clock: () => NOW,
      forecast: ({ budget, nowMs }) => {
        seen.push(budget.id);
        return budget.id === 'team-web' ? nowMs + 90_000 : null;
      },
    }).current();
    expect(seen).toEqual(['team-web', 'credits', 'idle']);
    expect(snapshot!.lines.map((l) => l.exhaustionEtaSeconds)).toEqual([90, null, null]);
  });

  it('is read once per interval however often it is asked for', async () => {
    let reads = 0;
    const counting: BudgetStore = Object.create(store, {
      balances: {
        value: (lines: LineSpec[]) => {
          reads++;
          return store.balances(lines);
        },
      },
    });
    vi.useFakeTimers({ toFake: ['performance'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const snapshots = createBudgetSnapshots({
      config: () => config,
      store: counting,
      clock: () => NOW,
      minAgeMs: 200,
    });
    const [a, b, c] = await Promise.all([snapshots.current(), snapshots.current(), snapshots.current()]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    const perRead = reads; // the fixed budgets in one call; no template instances yet
    expect(perRead).toBe(1);
    expect(await snapshots.current()).toBe(a);
    expect(reads).toBe(perRead);

    await spend(spec('team-web'), 2);
    // Freshness is measured on the monotonic clock: faked, so "200 ms later" is exact.
    vi.advanceTimersByTime(199);
    expect(await snapshots.current()).toBe(a);
    // Past the interval the next ask reads again, once.
    vi.advanceTimersByTime(1);
    expect((await snapshots.current())!.lines[0]!.spentNano).toBe(2e9);
    expect(reads).toBe(2 * perRead);
  });

  it('answers null (the gauges go absent, not stale) when the store cannot be read', async () => {
    const snapshots = createBudgetSnapshots({ config: () => config, store, clock: () => NOW, minAgeMs: 0 });
    expect(await snapshots.current()).not.toBeNull();
    await store.close();
    // Once the first read's (tiny) freshness has passed:
    await eventually(async () => expect(await snapshots.current()).toBeNull(), 3000);
  });
});
