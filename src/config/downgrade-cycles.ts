/**
 * Downgrade-map cycles that only show when maps chain. Checked when the config is compiled
 * (compile.ts); the downgrade itself is applied by budget/policy.ts, which relies on the maps
 * being acyclic here (it only bounds its steps against a bad config).
 */

interface DowngradeEdge {
  from: string;
  to: string;
  /** `budgets[i].thresholds[j]`: the map the edge comes from. */
  map: string;
}

/**
 * Cycles that appear only when maps chain: across the thresholds of one budget, or across budgets
 * (a request under several budgets follows every applicable map). A cycle inside one map is
 * reported by the per-map check (budgets.ts budgetProblems), so here a cycle must use at least two maps.
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
