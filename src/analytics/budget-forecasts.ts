/**
 * Forecasts for every budget line in its current period: the balance from the budget store (what
 * is spent, after resets and top-ups) and the burn rate from the hourly history.
 * Prepaid budgets have no period to average over: their rate comes from the last week.
 */
import { lineSpecOf } from '../budget/lines.js';
import { type PeriodInfo, periodOf } from '../budget/periods.js';
import type { RuntimeBudget, RuntimeConfig } from '../config/runtime.js';
import type { Nano } from '../money.js';
import { HOUR_MS, hourOf } from '../store/history.js';
import type { BudgetStore } from '../store/types.js';
import { forecastSpend, type SpendForecast } from './forecast.js';
import { type SpendHistory, trackedBudgets } from './spend-history.js';

export interface LineForecast {
  budgetId: string;
  /** Differs from budgetId for instances of "*" budgets. */
  instance: string;
  period: PeriodInfo;
  limitNano: Nano;
  spentNano: Nano;
  reservedNano: Nano;
  forecast: SpendForecast;
}

/** A "*" budget: one line per distinct value (user, key, ...). */
export function isTemplate(budget: RuntimeBudget): boolean {
  return budget.scope !== 'global' && Object.values(budget.scope).includes('*');
}

export const PREPAID_WINDOW_HOURS = 7 * 24;
/** Balances read per store call for template instances. */
const BATCH = 500;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The hours whose spend makes a line's burn rate: complete hours of the elapsed period. */
export function rateWindow(period: PeriodInfo, nowMs: number): { fromMs: number; toMs: number } {
  const toMs = hourOf(nowMs);
  const fromMs = period.endMs === null ? toMs - PREPAID_WINDOW_HOURS * HOUR_MS : hourOf(period.startMs);
  return { fromMs, toMs: Math.max(fromMs, toMs) };
}

/**
 * Forecasts for every line. `firstHourMs` is when the history began: hours before it are unknown,
 * not quiet, so they are left out of the rate (none at all: linear). `observedSinceMs` is when the
 * gateway began watching: no forecast before cfg.forecast says there is enough of it.
 */
export async function forecastLines(
  cfg: RuntimeConfig,
  store: BudgetStore,
  history: SpendHistory,
  firstHourMs: number | null,
  nowMs: number,
  observedSinceMs: number = firstHourMs ?? nowMs,
): Promise<LineForecast[]> {
  const budgets = trackedBudgets(cfg);
  const periods = budgets.map((b) => periodOf(b.period, b.timezone, nowMs));
  const windows = periods.map((p) => {
    const window = rateWindow(p, nowMs);
    const known = firstHourMs === null ? window.toMs : Math.max(window.fromMs, firstHourMs);
    return { fromMs: Math.min(known, window.toMs), toMs: window.toMs };
  });
  if (budgets.length === 0) return [];
  const from = Math.min(...windows.map((w) => w.fromMs));
  const to = Math.max(...windows.map((w) => w.toMs));
  const spend = await history.load(cfg, from, Math.max(to, from + HOUR_MS), nowMs);

  const out: LineForecast[] = [];
  for (const [i, budget] of budgets.entries()) {
    const period = periods[i]!;
    const window = windows[i]!;
    const instances = isTemplate(budget) ? await store.instances(budget.id, period.id) : [budget.id];
    for (let start = 0; start < instances.length; start += BATCH) {
      // SQLite answers synchronously: without a pause per batch, tens of thousands of instances
      // would hold the event loop (and /healthz, and every request) for the whole pass.
      if (start > 0) await yieldToEventLoop();
      const ids = instances.slice(start, start + BATCH);
      const balances = await store.balances(ids.map((id) => lineSpecOf(budget, id, period)));
      ids.forEach((instance, j) => {
        const balance = balances[j] ?? { limitNano: budget.limitNano, spentNano: 0, reservedNano: 0 };
        out.push({
          budgetId: budget.id,
          instance,
          period,
          ...balance,
          forecast: forecastSpend({
            spentNano: balance.spentNano,
            limitNano: balance.limitNano,
            periodStartMs: period.startMs,
            periodEndMs: period.endMs,
            nowMs,
            hourly: spend.lineSeries(instance, window.fromMs, window.toMs),
            evidence: { observedSinceMs, rule: cfg.forecast },
          }),
        });
      });
    }
  }
  return out;
}
