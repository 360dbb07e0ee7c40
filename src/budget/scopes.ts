/**
 * Which budgets a request falls under. A scope is an AND of fields; "*" matches any present value
 * and makes the budget a template with one instance per distinct value (per-user budgets).
 */
import type { RuntimeBudget, RuntimeModel } from '../config/runtime.js';
import type { ScopeField } from '../config/schema.js';

/** The request attributes scopes match on. */
export interface RequestAttributes {
  keyId: string;
  user?: string;
  team?: string;
  model: string;
  provider: string;
  tags: readonly string[];
}

/** One budget instance a request falls under. */
export interface ScopedLine {
  budget: RuntimeBudget;
  /** budget.id, or `${budget.id}|field=value...` for template instances. */
  instance: string;
}

/** Fixed order, so an instance id never depends on how the scope was written. */
const FIELD_ORDER: readonly ScopeField[] = ['key', 'user', 'team', 'model', 'provider', 'tag'];

/** Escapes the separators so `a|b` as a value cannot pose as two fields. */
export function escapeScopeValue(value: string): string {
  return value.replace(/%/g, '%25').replace(/\|/g, '%7C').replace(/=/g, '%3D');
}

export function instanceId(budgetId: string, values: ReadonlyArray<readonly [ScopeField, string]>): string {
  let id = budgetId;
  for (const [field, value] of values) id += `|${field}=${escapeScopeValue(value)}`;
  return id;
}

/** The values a request has for a field ("" counts as absent). */
function valuesOf(field: ScopeField, attrs: RequestAttributes): readonly string[] {
  if (field === 'tag') return attrs.tags.filter((tag) => tag !== '');
  const value = field === 'key' ? attrs.keyId : attrs[field];
  return value ? [value] : [];
}

/**
 * The instances of one budget a request falls under: none, one, or (a "*" tag scope on a key with
 * several tags) one per tag.
 */
export function matchBudget(budget: RuntimeBudget, attrs: RequestAttributes): ScopedLine[] {
  return matchScope(budget.id, budget.scope, attrs).map((instance) => ({ budget, instance }));
}

/** The instance ids of one scoped definition (a budget, or a rate limit) a request falls under. */
export function matchScope(id: string, scope: RuntimeBudget['scope'], attrs: RequestAttributes): string[] {
  if (scope === 'global') return [id];
  let instances: Array<Array<readonly [ScopeField, string]>> = [[]];
  for (const field of FIELD_ORDER) {
    const wanted = scope[field];
    if (wanted === undefined) continue;
    const present = valuesOf(field, attrs);
    if (wanted !== '*') {
      if (!present.includes(wanted)) return [];
      continue;
    }
    const distinct = [...new Set(present)];
    if (distinct.length === 0) return [];
    instances = instances.flatMap((parts) => distinct.map((value) => [...parts, [field, value] as const]));
  }
  return instances.map((parts) => instanceId(id, parts));
}

/** Every budget instance a request falls under, in budget order. */
export function linesFor(budgets: readonly RuntimeBudget[], attrs: RequestAttributes): ScopedLine[] {
  return budgets.flatMap((budget) => matchBudget(budget, attrs));
}

/**
 * The budget instances an identity can spend from, whatever model it calls (GET /v1/budget):
 * the union over the models it may use, so a model-scoped budget shows when the key may use that model.
 */
export function linesForIdentity(
  budgets: readonly RuntimeBudget[],
  identity: { keyId: string; user?: string; team?: string; tags: readonly string[] },
  usableModels: Iterable<RuntimeModel>,
): ScopedLine[] {
  const seen = new Map<string, ScopedLine>();
  for (const model of usableModels) {
    for (const line of linesFor(budgets, { ...identity, model: model.name, provider: model.provider.name })) {
      if (!seen.has(line.instance)) seen.set(line.instance, line);
    }
  }
  // Budgets that do not depend on the model still show when no model is usable.
  const noModel = { ...identity, model: '', provider: '' };
  for (const budget of budgets) {
    if (
      budget.scope !== 'global' &&
      (budget.scope.model !== undefined || budget.scope.provider !== undefined)
    )
      continue;
    for (const line of matchBudget(budget, noModel))
      if (!seen.has(line.instance)) seen.set(line.instance, line);
  }
  // Keep config order.
  const order = new Map(budgets.map((budget, i) => [budget, i]));
  return [...seen.values()].sort((a, b) => (order.get(a.budget) ?? 0) - (order.get(b.budget) ?? 0));
}
