/**
 * Threshold and exhaustion events, each at most once per budget instance and period across every
 * gateway instance (the store's claimOnce decides who fires).
 */
import type { RuntimeBudget } from '../config/runtime.js';
import type { BudgetStore, LineBalance, LineSpec } from '../store/types.js';
import type { BudgetEvent } from './engine-types.js';
import { ttlSecondsFor } from './periods.js';
import { thresholdNano } from './policy.js';

/** Calls an owner's hook; metrics and event hooks must never break budgeting. */
export function safe<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  if (!fn) return;
  try {
    fn(...args);
  } catch {
    // Swallowed on purpose (see above).
  }
}

export class BudgetAlerts {
  constructor(
    private readonly store: BudgetStore,
    private readonly clock: () => number,
    private readonly onEvent: ((event: BudgetEvent) => void) | undefined,
  ) {}

  /** The events a settle that moved `spec` from `beforeNano` spent to `balance` earns. */
  crossed(budget: RuntimeBudget, spec: LineSpec, beforeNano: number, balance: LineBalance): Promise<void>[] {
    const after = balance.spentNano;
    const fired: Promise<void>[] = [];
    for (const threshold of budget.thresholds) {
      if (!threshold.alert) continue;
      const mark = thresholdNano(threshold.at, balance.limitNano);
      if (beforeNano < mark && mark <= after)
        fired.push(this.fireOnce(budget, spec, 'threshold', threshold.at, balance));
    }
    if (beforeNano < balance.limitNano && balance.limitNano <= after) {
      fired.push(this.fireOnce(budget, spec, 'exhausted', undefined, balance));
    }
    return fired;
  }

  /** Fires an alert when this caller is the one (across instances) to claim it for the period. */
  async fireOnce(
    budget: RuntimeBudget,
    spec: LineSpec,
    type: BudgetEvent['type'],
    at: number | undefined,
    balance: LineBalance,
  ): Promise<void> {
    // A trial running out is how a trial ends, not an incident: one alert per visitor would only
    // flood the receivers (and cost a store call per rejected visitor).
    if (budget.source === 'anonymous') return;
    try {
      const name = type === 'threshold' ? `threshold:${at}` : 'exhausted';
      const won = await this.store.claimOnce(
        spec.instance,
        spec.period,
        name,
        ttlSecondsFor(budget.period),
        this.clock(),
      );
      if (!won) return;
      safe(this.onEvent, {
        type,
        budgetId: budget.id,
        instance: spec.instance,
        period: spec.period,
        ...(at === undefined ? {} : { at }),
        spentNano: balance.spentNano,
        limitNano: balance.limitNano,
        timeMs: this.clock(),
      });
    } catch {
      // The instrumented store counts the failure (store_errors_total); an alert is not worth a
      // failed request.
    }
  }
}
