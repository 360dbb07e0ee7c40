/**
 * The balances this process last saw per budget line and period, so admission can plan downgrades
 * without an extra store round trip. The store stays the source of truth: a stale entry can only
 * make a plan the store then corrects (its answer refreshes the entry).
 */
import type { RuntimeBudget } from '../config/runtime.js';
import type { LineBalance, LineSpec } from '../store/types.js';
import { viewOf, zeroBalance } from './engine-views.js';
import type { PeriodInfo } from './periods.js';
import type { BudgetView } from './types.js';

const DEFAULT_LIMIT = 50_000;

export class BalanceCache {
  /** Keyed by `${instance}\n${period}`; insertion order doubles as LRU order. */
  private readonly entries = new Map<string, LineBalance>();

  constructor(private readonly limit = DEFAULT_LIMIT) {}

  get(instance: string, period: string): LineBalance | undefined {
    return this.entries.get(keyOf(instance, period));
  }

  of(spec: LineSpec): LineBalance | undefined {
    return this.get(spec.instance, spec.period);
  }

  remember(spec: LineSpec, balance: LineBalance): void {
    const key = keyOf(spec.instance, spec.period);
    this.entries.delete(key);
    this.entries.set(key, { ...balance });
    if (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  rememberAll(specs: readonly LineSpec[], balances: readonly LineBalance[]): void {
    specs.forEach((spec, i) => {
      const balance = balances[i];
      if (balance) this.remember(spec, balance);
    });
  }

  /** The line as the caller sees it: the given balance, else the last one seen, else untouched. */
  view(
    budget: RuntimeBudget,
    spec: LineSpec,
    period: PeriodInfo,
    balance: LineBalance | undefined,
  ): BudgetView {
    return viewOf(budget, spec, balance ?? this.of(spec) ?? zeroBalance(spec), period.endMs);
  }
}

function keyOf(instance: string, period: string): string {
  return `${instance}\n${period}`;
}
