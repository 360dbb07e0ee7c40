/**
 * A budget instance in the period `nowMs` falls in, as the store counts it. Every reader of budget
 * lines (the engine, snapshots, admin balances, forecasts) builds them here, so they all name the
 * same counters.
 */
import type { RuntimeBudget } from '../config/runtime.js';
import type { LineSpec } from '../store/types.js';
import { cachedPeriodOf, type PeriodInfo, ttlSecondsFor } from './periods.js';

export function lineSpecOf(
  budget: RuntimeBudget,
  instance: string,
  period: PeriodInfo,
  downgradeAtNano = -1,
): LineSpec {
  return {
    instance,
    budgetId: budget.id,
    period: period.id,
    previousPeriod: budget.rolloverMaxNano > 0 ? period.previousId : null,
    limitNano: budget.limitNano,
    rolloverMaxNano: budget.rolloverMaxNano,
    downgradeAtNano,
    ttlSeconds: ttlSecondsFor(budget.period),
  };
}

export function lineAt(
  budget: RuntimeBudget,
  instance: string,
  nowMs: number,
): { spec: LineSpec; period: PeriodInfo } {
  const period = cachedPeriodOf(budget.period, budget.timezone, nowMs);
  return { spec: lineSpecOf(budget, instance, period), period };
}
