/**
 * Savings suggestions from the history: for each team (or key without a team) and model, what its
 * short-output requests (fewer than SHORT_OUTPUT_TOKENS output tokens: classification, extraction,
 * routing, short answers, where a smaller model usually does as well) cost, and what the same
 * tokens would have cost on each cheaper candidate model at today's prices.
 *
 * Candidates come from config: the `alternatives` map and every budget threshold's downgrade map.
 * The alternative's cost prices the same token counts, so across tokenizers (another provider) it
 * is an approximation; within a provider's family it is exact up to the per-request rounding.
 */
import type { RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import { type Nano, nanoToUsd } from '../money.js';
import type { RollupRow, UsageCounters } from '../store/history.js';
import { costOfUsage } from '../usage.js';
import { addCounters, SHORT_OUTPUT_TOKENS, zeroCounters } from './records.js';

export interface Suggestion {
  /** Who spent it: a team, or a key without a team. */
  scope: { team: string } | { key: string };
  model: string;
  alternative: string;
  requests: number;
  actualNano: Nano;
  alternativeNano: Nano;
  savingsNano: Nano;
  message: string;
}

/** Cheaper models to consider per model, from the config's alternatives and downgrade maps. */
export function candidatePairs(cfg: RuntimeConfig): Map<string, Set<string>> {
  const pairs = new Map<string, Set<string>>();
  const addPair = (from: string, to: string) => {
    if (from === to || !cfg.models.has(from) || !cfg.models.has(to)) return;
    let set = pairs.get(from);
    if (!set) {
      set = new Set();
      pairs.set(from, set);
    }
    set.add(to);
  };
  for (const [from, alternatives] of cfg.alternatives) {
    for (const to of alternatives) addPair(from, to);
  }
  for (const budget of cfg.budgets) {
    for (const threshold of budget.thresholds) {
      for (const [from, to] of threshold.downgrade ?? []) addPair(from, to);
    }
  }
  return pairs;
}

export async function suggestSavings(
  rows: AsyncIterable<RollupRow> | Iterable<RollupRow>,
  models: ReadonlyMap<string, RuntimeModel>,
  pairs: ReadonlyMap<string, ReadonlySet<string>>,
  minSavingsNano: Nano,
): Promise<Suggestion[]> {
  // Short-output usage per (who, model).
  const groups = new Map<string, { scope: Suggestion['scope']; model: string; counters: UsageCounters }>();
  for await (const row of rows) {
    if (!row.short || row.costNano === 0 || !pairs.has(row.model)) continue;
    const scope = row.team ? { team: row.team } : row.key ? { key: row.key } : undefined;
    if (!scope) continue;
    const id = JSON.stringify([scope, row.model]);
    let group = groups.get(id);
    if (!group) {
      group = { scope, model: row.model, counters: zeroCounters() };
      groups.set(id, group);
    }
    addCounters(group.counters, row);
  }

  const out: Suggestion[] = [];
  for (const { scope, model, counters } of groups.values()) {
    let best: Suggestion | undefined;
    for (const alternative of pairs.get(model) ?? []) {
      const price = models.get(alternative)?.price;
      if (!price) continue;
      const alternativeNano = costOfUsage(counters, price);
      const savingsNano = counters.costNano - alternativeNano;
      if (savingsNano < minSavingsNano || (best && savingsNano <= best.savingsNano)) continue;
      best = {
        scope,
        model,
        alternative,
        requests: counters.requests,
        actualNano: counters.costNano,
        alternativeNano,
        savingsNano,
        message: '',
      };
    }
    if (best) out.push({ ...best, message: describe(best) });
  }
  return out.sort((a, b) => b.savingsNano - a.savingsNano || a.message.localeCompare(b.message));
}

/** "team web spent $412.00 on gpt-4o for 1,234 requests with under 300 output tokens; ..." */
function describe(s: Suggestion): string {
  const who = 'team' in s.scope ? `team ${s.scope.team}` : `key ${s.scope.key}`;
  const requests = `${s.requests.toLocaleString('en-US')} request${s.requests === 1 ? '' : 's'}`;
  return (
    `${who} spent ${money(s.actualNano)} on ${s.model} for ${requests} with under ${SHORT_OUTPUT_TOKENS} ` +
    `output tokens; ${s.alternative} would have cost ${money(s.alternativeNano)} (saving ${money(s.savingsNano)})`
  );
}

/** Dollars and cents, with more digits only when cents would show nothing. */
export function money(nano: Nano): string {
  const usd = nanoToUsd(nano);
  if (usd !== 0 && Math.abs(usd) < 0.01) return `$${usd.toFixed(6)}`;
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
