/**
 * Budgets as the admin API lists them: the config file's (read-only here) and the API-made ones
 * (from the merged config), each with its definition as written, where it comes from, whether it
 * is in force, and its balances.
 */
import { isTemplate } from '../budget/snapshot.js';
import { compileBudget } from '../config/budgets.js';
import type { RuntimeBudget } from '../config/runtime.js';
import type { BudgetConfig } from '../config/schema.js';
import type { MergedConfig } from '../registry/merge.js';
import type { BudgetStore } from '../store/types.js';
import { balancesOf } from './budget-balances.js';

export interface BudgetEntry {
  definition: BudgetConfig;
  runtime: RuntimeBudget;
  source: 'config' | 'api';
  /** Why an API budget is not in force (empty when it is). */
  problems: string[];
  createdAt?: string;
  updatedAt?: string;
}

/** Config budgets first (file order), then API budgets (id order). */
export function budgetEntries(merged: MergedConfig): BudgetEntry[] {
  const config = merged.config;
  const entries: BudgetEntry[] = config.fileDefinitions.budgets.map((definition) => ({
    definition,
    runtime:
      config.budgets.find((b) => b.source === 'config' && b.id === definition.id) ??
      compileBudget(definition, 'config'),
    source: 'config',
    problems: [],
  }));
  for (const [id, record] of merged.apiBudgets) {
    entries.push({
      definition: record.budget,
      runtime:
        config.budgets.find((b) => b.source === 'api' && b.id === id) ?? compileBudget(record.budget, 'api'),
      source: 'api',
      problems: merged.inactiveBudgets.get(id) ?? [],
      createdAt: record.created_at,
      updatedAt: record.updated_at,
    });
  }
  return entries;
}

/** The budget an id names: the config file's when both define it (the file takes precedence). */
export function findBudgetEntry(merged: MergedConfig, id: string): BudgetEntry | undefined {
  const entries = budgetEntries(merged);
  return (
    entries.find((e) => e.definition.id === id && e.source === 'config') ??
    entries.find((e) => e.definition.id === id)
  );
}

export async function budgetJson(entry: BudgetEntry, store: BudgetStore, nowMs: number) {
  return {
    ...entry.definition,
    source: entry.source,
    active: entry.problems.length === 0,
    ...(entry.problems.length > 0 ? { problems: entry.problems } : {}),
    template: isTemplate(entry.runtime),
    ...(entry.createdAt ? { created_at: entry.createdAt } : {}),
    ...(entry.updatedAt ? { updated_at: entry.updatedAt } : {}),
    ...(await balancesOf(store, entry.runtime, nowMs)),
  };
}
