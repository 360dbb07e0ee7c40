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

interface DowngradeEdge {
  from: string;
  to: string;
  /** `budgets[i].thresholds[j]`: the map the edge comes from. */
  map: string;
}

/**
 * Cycles that appear only when maps chain: across the thresholds of one budget, or across budgets
 * (a request under several budgets follows every applicable map). A cycle inside one map is
 * reported by the per-map check (config/compile.ts), so here a cycle must use at least two maps.
 * Problems read `budgets[i].thresholds[j].downgrade.<model>: downgrade cycle a -> b -> a (through ...)`.
 */
export function chainedDowngradeCycles(
  budgets: ReadonlyArray<{ thresholds: ReadonlyArray<{ downgrade?: Readonly<Record<string, string>> }> }>,
): string[] {
  const edges: DowngradeEdge[] = [];
  budgets.forEach((budget, i) => {
    budget.thresholds.forEach((threshold, j) => {
      for (const [from, to] of Object.entries(threshold.downgrade ?? {})) {
        if (from !== to) edges.push({ from, to, map: `budgets[${i}].thresholds[${j}]` });
      }
    });
  });
  const problems: string[] = [];
  const reported = new Set<string>();
  for (const edge of edges) {
    const back = shortestPath(edges, edge.to, edge.from);
    if (!back) continue;
    const cycle = [edge, ...back];
    const maps = [...new Set(cycle.map((e) => e.map))];
    if (maps.length < 2) continue;
    const models = cycle.map((e) => e.from);
    const key = [...models].sort().join('\n');
    if (reported.has(key)) continue;
    reported.add(key);
    problems.push(
      `${edge.map}.downgrade.${edge.from}: downgrade cycle ${[...models, edge.from].join(' -> ')} (through ${maps.join(', ')})`,
    );
  }
  return problems;
}

/** Fewest edges from `start` to `goal` (breadth first), or undefined. */
function shortestPath(
  edges: readonly DowngradeEdge[],
  start: string,
  goal: string,
): DowngradeEdge[] | undefined {
  const via = new Map<string, DowngradeEdge | null>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const model = queue.shift() as string;
    if (model === goal) {
      const path: DowngradeEdge[] = [];
      for (let step = via.get(model); step; step = via.get(step.from)) path.unshift(step);
      return path;
    }
    for (const edge of edges) {
      if (edge.from !== model || via.has(edge.to)) continue;
      via.set(edge.to, edge);
      queue.push(edge.to);
    }
  }
  return undefined;
}
