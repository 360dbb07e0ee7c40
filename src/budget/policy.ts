/**
 * Threshold policies: which model a request is served with once budgets pass their downgrade
 * thresholds, and the committed amount at which the store must ask for that downgrade.
 */
import type { RuntimeBudget, RuntimeThreshold } from '../config/runtime.js';
import type { Nano } from '../money.js';

export interface BudgetRatio {
  budget: RuntimeBudget;
  /** committed (spent + reserved) / effective limit, as last seen. */
  usedRatio: number;
}

/** Most downgrade steps followed; configs are validated to be acyclic, this only bounds a bad one. */
const MAX_STEPS = 32;

/** What one step from `model` maps to, over every threshold at or below its budget's used ratio. */
function nextModels(model: string, budgets: readonly BudgetRatio[]): string[] {
  const targets: string[] = [];
  for (const { budget, usedRatio } of budgets) {
    for (const threshold of budget.thresholds) {
      if (threshold.at > usedRatio) continue;
      const target = threshold.downgrade?.get(model);
      if (target !== undefined && target !== model && !targets.includes(target)) targets.push(target);
    }
  }
  return targets;
}

/**
 * The models a request steps through: [requested, ..., served]. Mappings of every threshold whose
 * `at` is at or below its budget's used ratio apply, chained until none does. Targets the key may
 * not use (or that are unknown) are stepped through but never served: the chain ends at the last
 * usable model. When two budgets map the same model differently, the first mapping (budget order,
 * then threshold order) wins, so the result does not depend on prices.
 */
export function downgradeChain(
  model: string,
  budgets: readonly BudgetRatio[],
  allowedModels: ReadonlySet<string> | undefined,
  models: ReadonlyMap<string, unknown>,
): string[] {
  const usable = (name: string) =>
    models.has(name) && (allowedModels === undefined || allowedModels.has(name));
  const chain = [model];
  const visited = new Set([model]);
  let current = model;
  for (let step = 0; step < MAX_STEPS; step++) {
    const next = nextModels(current, budgets).find((target) => !visited.has(target));
    if (next === undefined) break;
    visited.add(next);
    current = next;
    if (usable(next)) chain.push(next);
  }
  return chain;
}

/**
 * The lowest threshold `at` of `budget` at which a downgrade of `model` changes what is served
 * (given the models the key may use); undefined when none does.
 */
export function downgradeAtRatio(
  budget: RuntimeBudget,
  model: string,
  allowedModels: ReadonlySet<string> | undefined,
  models: ReadonlyMap<string, unknown>,
): number | undefined {
  const ats = budget.thresholds
    .filter((t: RuntimeThreshold) => t.downgrade?.has(model))
    .map((t) => t.at)
    .sort((a, b) => a - b);
  for (const at of ats) {
    if (downgradeChain(model, [{ budget, usedRatio: at }], allowedModels, models).length > 1) return at;
  }
  return undefined;
}

/**
 * Committed nano-USD at which a ratio `at` of `limitNano` is reached: ceil(at x limit). A tiny
 * tolerance absorbs binary float error (0.8 x 5e11 is 400000000000.00006 as a double).
 */
export function thresholdNano(at: number, limitNano: Nano): Nano {
  return Math.max(0, Math.ceil(at * limitNano - 1e-6));
}
