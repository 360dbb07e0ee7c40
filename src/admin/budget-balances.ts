/**
 * Balances of one budget for the admin API, in its current period: the line of a plain budget, or
 * a summary of a "*" template budget (how many instances spent this period, their total, and the
 * top spenders), never one entry per user for the whole population.
 */
import { lineAt } from '../budget/lines.js';
import type { PeriodInfo } from '../budget/periods.js';
import { isTemplate } from '../budget/snapshot.js';
import type { RuntimeBudget } from '../config/runtime.js';
import { nanoToUsd } from '../money.js';
import type { BudgetStore, LineBalance, LineSpec } from '../store/types.js';

/** Template instances read per store call. */
const BATCH = 500;
/** Instances looked at for a summary; past it the summary says it is partial. */
const MAX_INSTANCES = 20_000;
export const TOP_SPENDERS = 10;

export function lineFor(
  budget: RuntimeBudget,
  instance: string,
  nowMs: number,
): { spec: LineSpec; period: PeriodInfo } {
  return lineAt(budget, instance, nowMs);
}

export function balanceJson(balance: LineBalance) {
  return {
    limit_usd: nanoToUsd(balance.limitNano),
    spent_usd: nanoToUsd(balance.spentNano),
    reserved_usd: nanoToUsd(balance.reservedNano),
    remaining_usd: nanoToUsd(Math.max(0, balance.limitNano - balance.spentNano - balance.reservedNano)),
  };
}

/** `per-user|user=alice|team=web` -> { user: 'alice', team: 'web' } (undoing escapeScopeValue). */
export function instanceValues(instance: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const part of instance.split('|').slice(1)) {
    const cut = part.indexOf('=');
    if (cut < 0) continue;
    values[part.slice(0, cut)] = part
      .slice(cut + 1)
      .replace(/%7C/g, '|')
      .replace(/%3D/g, '=')
      .replace(/%25/g, '%');
  }
  return values;
}

export type BudgetBalances = Awaited<ReturnType<typeof balancesOf>>;

/** The balance part of a budget's admin answer. */
export async function balancesOf(store: BudgetStore, budget: RuntimeBudget, nowMs: number) {
  const { spec, period } = lineFor(budget, budget.id, nowMs);
  const resetsAt = period.endMs === null ? null : new Date(period.endMs).toISOString();
  if (!isTemplate(budget)) {
    const [balance] = await store.balances([spec]);
    const line = balance ?? { limitNano: budget.limitNano, spentNano: 0, reservedNano: 0 };
    return { balance: { period: period.id, ...balanceJson(line), resets_at: resetsAt } };
  }
  const all = await store.instances(budget.id, period.id);
  const ids = all.slice(0, MAX_INSTANCES);
  const lines: Array<{ instance: string; balance: LineBalance }> = [];
  for (let start = 0; start < ids.length; start += BATCH) {
    const batch = ids.slice(start, start + BATCH);
    const balances = await store.balances(batch.map((id) => lineFor(budget, id, nowMs).spec));
    batch.forEach((instance, i) => {
      const balance = balances[i];
      if (balance) lines.push({ instance, balance });
    });
  }
  const top = [...lines]
    .sort((a, b) => b.balance.spentNano - a.balance.spentNano || (a.instance < b.instance ? -1 : 1))
    .slice(0, TOP_SPENDERS);
  return {
    instances: {
      period: period.id,
      resets_at: resetsAt,
      count: all.length,
      partial: all.length > ids.length,
      limit_usd_each: nanoToUsd(budget.limitNano),
      spent_usd: nanoToUsd(lines.reduce((sum, l) => sum + l.balance.spentNano, 0)),
      reserved_usd: nanoToUsd(lines.reduce((sum, l) => sum + l.balance.reservedNano, 0)),
      top_spenders: top.map(({ instance, balance }) => ({
        instance,
        values: instanceValues(instance),
        ...balanceJson(balance),
      })),
    },
  };
}
