/**
 * Small pure helpers of the budget engine: balance arithmetic, views of lines for callers, and
 * lookups.
 */
import type { RuntimeBudget, RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import type { Nano } from '../money.js';
import type { LineBalance, LineSpec } from '../store/types.js';
import { cachedPeriodOf } from './periods.js';
import type { BudgetView, Identity } from './types.js';

export function committed(balance: LineBalance): Nano {
  return balance.spentNano + balance.reservedNano;
}

export function zeroBalance(spec: LineSpec): LineBalance {
  return { limitNano: spec.limitNano, spentNano: 0, reservedNano: 0 };
}

export function attributes(identity: Identity, model: RuntimeModel) {
  return {
    keyId: identity.keyId,
    user: identity.user,
    team: identity.team,
    tags: identity.tags,
    model: model.name,
    provider: model.provider.name,
  };
}

export function viewOf(
  budget: RuntimeBudget,
  spec: LineSpec,
  balance: LineBalance,
  resetsAtMs: number | null,
): BudgetView {
  return {
    budget,
    instance: spec.instance,
    line: spec,
    limitNano: balance.limitNano,
    spentNano: balance.spentNano,
    reservedNano: balance.reservedNano,
    remainingNano: Math.max(0, balance.limitNano - committed(balance)),
    resetsAtMs,
  };
}

export function tightestOf(views: readonly BudgetView[]): BudgetView | undefined {
  let best: BudgetView | undefined;
  for (const view of views) if (!best || view.remainingNano < best.remainingNano) best = view;
  return best;
}

export function findBudget(cfg: RuntimeConfig, budgetId: string): RuntimeBudget | undefined {
  if (budgetId === cfg.anonymous.budget.id) return cfg.anonymous.budget;
  return cfg.budgets.find((b) => b.id === budgetId);
}

/** The end of the reservation's period, when the reservation came without its metadata. */
export function resetOf(budget: RuntimeBudget, spec: LineSpec, nowMs: number): number | null {
  const current = cachedPeriodOf(budget.period, budget.timezone, nowMs);
  return current.id === spec.period ? current.endMs : null;
}
