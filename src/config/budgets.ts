/**
 * One budget definition compiled, and the checks a definition needs beyond its schema (references
 * to models and providers, its time zone, downgrade maps). Used for the file's budgets (compile.ts)
 * and for budgets made through the admin API (src/registry/merge.ts).
 */
import { usdToNano } from '../money.js';
import type { RuntimeBudget, RuntimeThreshold, Scope } from './runtime.js';
import type { BudgetConfig } from './schema.js';

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function compileBudget(budget: BudgetConfig, source: RuntimeBudget['source']): RuntimeBudget {
  const thresholds: RuntimeThreshold[] = budget.thresholds
    .map((t) => ({
      at: t.at,
      alert: t.alert,
      downgrade: t.downgrade ? new Map(Object.entries(t.downgrade)) : undefined,
    }))
    .sort((a, b) => a.at - b.at);
  return {
    id: budget.id,
    scope: budget.scope as Scope,
    limitNano: usdToNano(budget.limit_usd),
    period: budget.period,
    timezone: budget.timezone,
    rolloverMaxNano: budget.rollover ? usdToNano(budget.rollover.max_usd) : 0,
    thresholds,
    source,
  };
}

/** Problems with one budget's references; `at` is its path prefix (`budgets[2]`). */
export function budgetProblems(
  budget: BudgetConfig,
  at: string,
  models: ReadonlyMap<string, { provider: string }>,
  providers: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  if (!isValidTimeZone(budget.timezone))
    problems.push(`${at}.timezone: unknown time zone ${budget.timezone}`);
  if (budget.scope !== 'global') {
    const { model, provider } = budget.scope;
    if (model && model !== '*' && !models.has(model))
      problems.push(`${at}.scope.model: unknown model ${model}`);
    if (provider && provider !== '*' && !providers.has(provider)) {
      problems.push(`${at}.scope.provider: unknown provider ${provider}`);
    }
  }
  if (budget.period === 'none' && budget.rollover) {
    problems.push(`${at}.rollover: a budget with period none has nothing to roll over`);
  }
  budget.thresholds.forEach((threshold, j) => {
    if (!threshold.downgrade) return;
    const map = threshold.downgrade;
    for (const [from, to] of Object.entries(map)) {
      const path = `${at}.thresholds[${j}].downgrade.${from}`;
      const fromModel = models.get(from);
      const toModel = models.get(to);
      if (!fromModel) problems.push(`${path}: unknown model ${from}`);
      if (!toModel) problems.push(`${path}: unknown model ${to}`);
      if (fromModel && toModel && fromModel.provider !== toModel.provider) {
        problems.push(`${path}: ${to} is served by another provider than ${from}; a downgrade keeps the API`);
      }
      // Follow the chain from `from`; coming back to a model already seen is a cycle.
      const seen = new Set([from]);
      let next = map[from];
      while (next !== undefined) {
        if (seen.has(next)) {
          problems.push(`${path}: downgrade cycle ${[...seen, next].join(' -> ')}`);
          break;
        }
        seen.add(next);
        next = map[next];
      }
    }
  });
  return problems;
}
