/**
 * The config file's compiled config merged with the API-made records: the file's budgets and keys
 * first and in force; an API record joins unless it clashes with the file (same id, same secret)
 * or names what the file does not define, in which case it stays stored but inactive, with why.
 */
import { budgetProblems, compileBudget } from '../config/budgets.js';
import { ANONYMOUS_BUDGET_ID, ANONYMOUS_KEY_ID } from '../config/compile.js';
import type { RuntimeBudget, RuntimeConfig, RuntimeKey } from '../config/runtime.js';
import type { BudgetConfig } from '../config/schema.js';
import type { ApiBudgetRecord, ApiKeyRecord, ParsedMeta } from './records.js';

/** The merge's outcome: the config to run on, and what the API records contributed. */
export interface MergedConfig {
  config: RuntimeConfig;
  /** Metadata version the API records came from; -1 before the first read. */
  version: number;
  apiBudgets: ReadonlyMap<string, ApiBudgetRecord>;
  apiKeys: ReadonlyMap<string, ApiKeyRecord>;
  /** API records stored but not in force, by id, with why. */
  inactiveBudgets: ReadonlyMap<string, string[]>;
  inactiveKeys: ReadonlyMap<string, string[]>;
}

/**
 * Reference problems of a budget against a config (unknown models, providers, zones, downgrade
 * cycles), as `field: message` with fields relative to the budget (`thresholds[0].downgrade.gpt-4o`).
 */
export function budgetReferenceProblems(budget: BudgetConfig, config: RuntimeConfig): string[] {
  const models = new Map([...config.models].map(([name, m]) => [name, { provider: m.provider.name }]));
  return budgetProblems(budget, '', models, new Set(config.providers.keys())).map((p) =>
    p.replace(/^\./, ''),
  );
}

export function mergeConfig(fromFile: RuntimeConfig, meta: ParsedMeta): MergedConfig {
  const fileBudgetIds = new Set(fromFile.budgets.map((b) => b.id));
  const budgets: RuntimeBudget[] = [...fromFile.budgets];
  const apiBudgets = new Map<string, ApiBudgetRecord>();
  const inactiveBudgets = new Map<string, string[]>();
  for (const record of meta.budgets) {
    const budget = record.budget;
    apiBudgets.set(budget.id, record);
    const problems =
      fileBudgetIds.has(budget.id) || budget.id === ANONYMOUS_BUDGET_ID
        ? [`id: the config file now defines a budget "${budget.id}"; it takes precedence`]
        : budgetReferenceProblems(budget, fromFile);
    if (problems.length > 0) inactiveBudgets.set(budget.id, problems);
    else budgets.push(compileBudget(budget, 'api'));
  }

  const fileKeyIds = new Set([...fromFile.keysByHash.values()].map((k) => k.id));
  const keysByHash = new Map<string, RuntimeKey>(fromFile.keysByHash);
  const apiKeys = new Map<string, ApiKeyRecord>();
  const inactiveKeys = new Map<string, string[]>();
  for (const record of meta.keys) {
    apiKeys.set(record.id, record);
    if (fileKeyIds.has(record.id) || record.id === ANONYMOUS_KEY_ID) {
      inactiveKeys.set(record.id, [
        `id: the config file now defines a key "${record.id}"; it takes precedence`,
      ]);
      continue;
    }
    if (keysByHash.has(record.key_sha256)) {
      inactiveKeys.set(record.id, ['key: the config file now defines the same secret']);
      continue;
    }
    keysByHash.set(record.key_sha256, {
      id: record.id,
      user: record.user,
      team: record.team,
      tags: record.tags,
      models: record.models ? new Set(record.models) : undefined,
      maxChoices: record.max_choices,
      source: 'api',
    });
  }

  return {
    config: { ...fromFile, budgets, keysByHash },
    version: meta.version,
    apiBudgets,
    apiKeys,
    inactiveBudgets,
    inactiveKeys,
  };
}
