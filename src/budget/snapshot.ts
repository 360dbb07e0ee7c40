/**
 * Every budget's balance at one instant, for the metrics scrape: one line per config/API budget at
 * its current period, and one summary per "*" template budget (instance count, total spend, the
 * tightest remaining ratio), never one entry per user. Snapshots are cached briefly, so several
 * Prometheus servers scraping every second still cost the store about one read per interval.
 */
import type { RuntimeBudget, RuntimeConfig } from '../config/runtime.js';
import type { Nano } from '../money.js';
import type { BudgetStore, LineBalance, LineSpec } from '../store/types.js';
import { linearForecast } from './forecast.js';
import { lineAt } from './lines.js';
import { cachedPeriodOf, type PeriodInfo } from './periods.js';

export interface BudgetLineSnapshot {
  budgetId: string;
  period: string;
  /** Effective limit: base + rollover + top-ups. */
  limitNano: Nano;
  spentNano: Nano;
  reservedNano: Nano;
  /** (limit - spent - reserved) / limit, never below 0; 0 for a zero limit. */
  remainingRatio: number;
  /** Seconds until the forecast says it runs out; 0 when it has; null when not before its period ends. */
  exhaustionEtaSeconds: number | null;
}

export interface TemplateSnapshot {
  budgetId: string;
  period: string;
  /** Instances (users, keys, ...) that touched the budget this period. */
  instances: number;
  spentNano: Nano;
  reservedNano: Nano;
  /** The tightest instance's remaining ratio; 1 when no instance exists yet. */
  minRemainingRatio: number;
  /** Instances with nothing left. */
  exhaustedInstances: number;
}

export interface BudgetSnapshot {
  takenAtMs: number;
  lines: BudgetLineSnapshot[];
  templates: TemplateSnapshot[];
}

export interface ForecastInput {
  budget: RuntimeBudget;
  line: LineSpec;
  balance: LineBalance;
  period: PeriodInfo;
  nowMs: number;
}

/**
 * When a line runs out (ms since epoch), or null when not before its period ends. The default is
 * the linear burn rate over the elapsed period; the admin analytics can pass a better forecaster
 * (hourly history) through BudgetSnapshotOptions.forecast.
 */
export type ExhaustionForecaster = (input: ForecastInput) => number | null | Promise<number | null>;

export const linearExhaustion: ExhaustionForecaster = ({ balance, period, nowMs }) => {
  if (balance.limitNano - balance.spentNano - balance.reservedNano <= 0) return nowMs;
  // A prepaid budget has no period start to average over, so no honest linear rate.
  if (period.endMs === null) return null;
  return linearForecast({
    spentNano: balance.spentNano,
    limitNano: balance.limitNano,
    periodStartMs: period.startMs,
    periodEndMs: period.endMs,
    nowMs,
  }).exhaustedAtMs;
};

export interface BudgetSnapshotOptions {
  config: () => RuntimeConfig;
  store: BudgetStore;
  clock?: () => number;
  forecast?: ExhaustionForecaster;
  /** A snapshot is reused for at least this long (ms). Default 1500. */
  minAgeMs?: number;
}

export interface BudgetSnapshots {
  /** The cached snapshot, or a fresh one; null when the store could not be read. */
  current(): Promise<BudgetSnapshot | null>;
}

/** Template instances read per store call. */
const BATCH = 500;
/** A slow store (many template instances) is read at most this fraction of the time. */
const MAX_BUSY_SHARE = 0.2;

export function isTemplate(budget: RuntimeBudget): boolean {
  return budget.scope !== 'global' && Object.values(budget.scope).includes('*');
}

export function createBudgetSnapshots(options: BudgetSnapshotOptions): BudgetSnapshots {
  const clock = options.clock ?? Date.now;
  const forecast = options.forecast ?? linearExhaustion;
  const minAgeMs = options.minAgeMs ?? 1500;
  let cached: { snapshot: BudgetSnapshot | null; freshUntil: number } | undefined;
  let inflight: Promise<BudgetSnapshot | null> | undefined;

  async function take(): Promise<BudgetSnapshot | null> {
    const started = performance.now();
    let snapshot: BudgetSnapshot | null;
    try {
      snapshot = await read(options.config(), options.store, clock(), forecast);
    } catch {
      // Counted by the instrumented store (store_errors_total); the gauges go absent, not stale.
      snapshot = null;
    }
    const took = performance.now() - started;
    cached = { snapshot, freshUntil: performance.now() + Math.max(minAgeMs, took / MAX_BUSY_SHARE) };
    return snapshot;
  }

  return {
    current() {
      if (cached && performance.now() < cached.freshUntil) return Promise.resolve(cached.snapshot);
      inflight ??= take().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
  };
}

async function read(
  cfg: RuntimeConfig,
  store: BudgetStore,
  nowMs: number,
  forecast: ExhaustionForecaster,
): Promise<BudgetSnapshot> {
  const budgets = cfg.anonymous.enabled ? [...cfg.budgets, cfg.anonymous.budget] : cfg.budgets;
  const fixed = budgets.filter((b) => !isTemplate(b));
  const templates = budgets.filter(isTemplate);

  const fixedLines = fixed.map((budget) => lineOf(budget, budget.id, nowMs));
  const fixedBalances = fixedLines.length > 0 ? await store.balances(fixedLines.map((l) => l.spec)) : [];
  const lines: BudgetLineSnapshot[] = [];
  for (const [i, { budget, spec, period }] of fixedLines.entries()) {
    const balance = fixedBalances[i] ?? { limitNano: spec.limitNano, spentNano: 0, reservedNano: 0 };
    const exhaustedAt = await forecast({ budget, line: spec, balance, period, nowMs });
    lines.push({
      budgetId: budget.id,
      period: period.id,
      limitNano: balance.limitNano,
      spentNano: balance.spentNano,
      reservedNano: balance.reservedNano,
      remainingRatio: remainingRatio(balance),
      exhaustionEtaSeconds: exhaustedAt === null ? null : Math.max(0, (exhaustedAt - nowMs) / 1000),
    });
  }

  const summaries: TemplateSnapshot[] = [];
  for (const budget of templates) summaries.push(await summarise(budget, store, nowMs));
  return { takenAtMs: nowMs, lines, templates: summaries };
}

async function summarise(
  budget: RuntimeBudget,
  store: BudgetStore,
  nowMs: number,
): Promise<TemplateSnapshot> {
  const period = cachedPeriodOf(budget.period, budget.timezone, nowMs);
  const instances = await store.instances(budget.id, period.id);
  const summary: TemplateSnapshot = {
    budgetId: budget.id,
    period: period.id,
    instances: instances.length,
    spentNano: 0,
    reservedNano: 0,
    minRemainingRatio: 1,
    exhaustedInstances: 0,
  };
  for (let start = 0; start < instances.length; start += BATCH) {
    const specs = instances.slice(start, start + BATCH).map((id) => lineOf(budget, id, nowMs).spec);
    for (const balance of await store.balances(specs)) {
      summary.spentNano += balance.spentNano;
      summary.reservedNano += balance.reservedNano;
      const ratio = remainingRatio(balance);
      summary.minRemainingRatio = Math.min(summary.minRemainingRatio, ratio);
      if (ratio <= 0) summary.exhaustedInstances++;
    }
  }
  return summary;
}

function lineOf(budget: RuntimeBudget, instance: string, nowMs: number) {
  return { budget, ...lineAt(budget, instance, nowMs) };
}

function remainingRatio(balance: LineBalance): number {
  if (balance.limitNano <= 0) return 0;
  return Math.max(0, balance.limitNano - balance.spentNano - balance.reservedNano) / balance.limitNano;
}
