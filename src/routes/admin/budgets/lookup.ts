/**
 * What the /admin/budgets routes share: finding a budget (404), refusing to change a config file
 * budget (409), checking a definition against the file, the answer after a write, and which
 * instances a reset or top-up acts on. All of it throws GatewayErrors; the boundary renders them.
 */

import { instanceValues, lineFor } from '../../../admin/budget-balances.js';
import { type BudgetEntry, budgetJson, findBudgetEntry } from '../../../admin/budget-entries.js';
import { isTemplate } from '../../../budget/snapshot.js';
import { compileBudget } from '../../../config/budgets.js';
import type { BudgetConfig } from '../../../config/schema.js';
import { GatewayError, invalidRequest, type Problem } from '../../../errors.js';
import { budgetReferenceProblems } from '../../../registry/merge.js';
import type { ConfigRegistry } from '../../../registry/registry.js';
import type { BudgetStore } from '../../../store/types.js';
import { problemsFromStrings } from '../shared/problems.js';

export function isFileBudget(registry: ConfigRegistry, id: string): boolean {
  return registry.fileConfig().budgets.some((b) => b.id === id);
}

export function readOnlyBudget(id: string): never {
  throw new GatewayError(
    'conflict',
    `Budget "${id}" is defined in the config file and is read-only through the API; edit the file and reload.`,
  );
}

export function budgetNotFound(id: string): never {
  throw new GatewayError('not_found', `No budget "${id}".`, { param: 'id' });
}

/** Throws every problem of `budget` (plus `extra`) against the config file; returns when there are none. */
export function checkBudget(registry: ConfigRegistry, budget: BudgetConfig, extra: Problem[] = []): void {
  const problems = [...extra, ...problemsFromStrings(budgetReferenceProblems(budget, registry.fileConfig()))];
  if (problems.length > 0) throw invalidRequest(problems);
}

/** The budget as it stands now; after a write, from the refreshed view (or what was written). */
export async function budgetNow(
  services: { registry: ConfigRegistry; store: BudgetStore; clock: () => number },
  id: string,
  written?: BudgetEntry,
) {
  const entry = findBudgetEntry(services.registry.merged(), id) ?? written ?? budgetNotFound(id);
  return budgetJson(entry, services.store, services.clock());
}

/** The entry of a budget just written through the API, for the answer before the view catches up. */
export function writtenEntry(budget: BudgetConfig, createdAt: string, updatedAt: string): BudgetEntry {
  return {
    definition: budget,
    runtime: compileBudget(budget, 'api'),
    source: 'api',
    problems: [],
    createdAt,
    updatedAt,
  };
}

/** The budget of the path's id after a refresh, or 404. */
export async function entryFor(registry: ConfigRegistry, id: string): Promise<BudgetEntry> {
  await registry.refresh();
  return findBudgetEntry(registry.merged(), id) ?? budgetNotFound(id);
}

/** The instances a reset or top-up acts on; a template budget's instance must be one of its own. */
export async function targetInstances(
  store: BudgetStore,
  entry: BudgetEntry,
  instance: string | undefined,
  nowMs: number,
  action: 'reset' | 'topup',
): Promise<string[]> {
  const budget = entry.runtime;
  if (!isTemplate(budget)) {
    if (instance !== undefined && instance !== budget.id)
      throw invalidRequest([
        { field: 'instance', message: `budget "${budget.id}" has no instances; leave instance out` },
      ]);
    return [budget.id];
  }
  if (instance === undefined) {
    if (action === 'topup')
      throw invalidRequest([
        { field: 'instance', message: `required: "${budget.id}" is a template budget; name one instance` },
      ]);
    return store.instances(budget.id, lineFor(budget, budget.id, nowMs).period.id);
  }
  const wildcards = Object.entries(budget.scope === 'global' ? {} : budget.scope)
    .filter(([, value]) => value === '*')
    .map(([field]) => field)
    .sort();
  const given = Object.keys(instanceValues(instance)).sort();
  if (!instance.startsWith(`${budget.id}|`) || given.join() !== wildcards.join())
    throw invalidRequest([
      {
        field: 'instance',
        message: `expected "${budget.id}|${wildcards.map((f) => `${f}=<value>`).join('|')}"`,
      },
    ]);
  return [instance];
}
