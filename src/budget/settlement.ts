/**
 * After the provider answered: settle a reservation at the real cost, or release it; queue either
 * for retry while the store is down; reap leases whose process died. Each settle refreshes the
 * balance cache, fires the threshold and exhaustion events it earned, and tells the watchers.
 */
import type { RuntimeBudget, RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import type { BudgetStore, SettleResult } from '../store/types.js';
import { costOfUsage, type Usage } from '../usage.js';
import type { BalanceCache } from './balance-cache.js';
import { type BudgetAlerts, safe } from './budget-alerts.js';
import type { BudgetEngineOptions, EngineMetricsHooks, SettledLine } from './engine-types.js';
import { findBudget, resetOf, tightestOf, viewOf } from './engine-views.js';
import type { LeaseKeeper } from './leases.js';
import { RetryQueue } from './retry.js';
import type { BudgetView, Reservation, SettleOutcome } from './types.js';

/** What admission knew of a reservation's lines, so a settle need not look the budgets up again. */
export interface ReservationMeta {
  budgets: RuntimeBudget[];
  resetsAtMs: Array<number | null>;
}

export interface SettlementDeps {
  store: BudgetStore;
  config: () => RuntimeConfig;
  clock: () => number;
  cache: BalanceCache;
  alerts: BudgetAlerts;
  metrics: EngineMetricsHooks;
  onSettled: BudgetEngineOptions['onSettled'];
  retry: BudgetEngineOptions['retry'];
  /** How often expired leases are reaped; 0 disables the background reaper. */
  reapIntervalMs: number;
  /** Renews the leases of the reservations handed out until the store answered their settle. */
  leases: LeaseKeeper;
}

export class Settlement {
  private readonly meta = new WeakMap<Reservation, ReservationMeta>();
  private readonly retries: RetryQueue;
  private readonly reaper: NodeJS.Timeout | undefined;
  private reaping = false;

  constructor(private readonly deps: SettlementDeps) {
    this.retries = new RetryQueue({
      ...deps.retry,
      onDrop: (count) => {
        for (let i = 0; i < count; i++) safe(deps.metrics.onUnrecorded, 'settle' as const);
        deps.retry?.onDrop?.(count);
      },
    });
    if (deps.reapIntervalMs > 0) {
      this.reaper = setInterval(() => void this.reapNow(), deps.reapIntervalMs);
      this.reaper.unref();
    }
  }

  /** Called by admission for every reservation it hands out. */
  track(reservation: Reservation, meta: ReservationMeta): void {
    this.meta.set(reservation, meta);
    // Nothing in the store (no line, no limit): no lease to keep.
    if (reservation.lines.length === 0 && !reservation.limits?.length) return;
    const at = reservation.reservedAtMs ?? this.deps.clock();
    this.deps.leases.hold(reservation.id, at, at + this.deps.config().budgeting.leaseMs);
  }

  async settle(reservation: Reservation | null, model: RuntimeModel, usage: Usage): Promise<SettleOutcome> {
    const costNano = costOfUsage(usage, model.price);
    if (!reservation || (reservation.lines.length === 0 && !reservation.limits?.length)) return { costNano };
    // Tokens-per-minute limits are settled to what the provider counted, like money.
    const tokens = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens + usage.outputTokens;
    const run = () =>
      reservation.limits?.length
        ? this.deps.store.settle(reservation.id, costNano, tokens)
        : this.deps.store.settle(reservation.id, costNano);
    try {
      const result = await run();
      this.deps.leases.drop(reservation.id);
      return { costNano, tightest: await this.afterSettle(reservation, result) };
    } catch {
      this.queue('settle', reservation, run);
      return { costNano };
    }
  }

  async release(reservation: Reservation | null): Promise<void> {
    if (!reservation || (reservation.lines.length === 0 && !reservation.limits?.length)) return;
    const run = () => this.deps.store.release(reservation.id);
    try {
      const result = await run();
      this.deps.leases.drop(reservation.id);
      await this.afterSettle(reservation, result);
    } catch {
      this.queue('release', reservation, run);
    }
  }

  /**
   * A reserve that timed out after it was sent may still be applied by the store: without this its
   * amount would stay reserved until the lease expired, then count as spent for a request that was
   * never forwarded. Releasing by id once the store answers is a no-op when it never landed.
   */
  releaseLate(reservationId: string): void {
    safe(this.deps.metrics.onRetryQueued, 'release' as const);
    this.retries.enqueue(async () => {
      try {
        await this.deps.store.release(reservationId);
        return true;
      } catch {
        return false;
      }
    });
  }

  private queue(
    operation: 'settle' | 'release',
    reservation: Reservation,
    run: () => Promise<SettleResult>,
  ): void {
    safe(this.deps.metrics.onRetryQueued, operation);
    // Its lease stays renewed meanwhile: a short outage must not turn a real cost into the worst case.
    this.retries.enqueue(async () => {
      try {
        const result = await run();
        this.deps.leases.drop(reservation.id);
        await this.afterSettle(reservation, result);
        return true;
      } catch {
        return false;
      }
    });
  }

  /** Updates the cache, fires threshold and exhaustion alerts, and returns the tightest line. */
  private async afterSettle(reservation: Reservation, result: SettleResult): Promise<BudgetView | undefined> {
    if (result.status !== 'settled') return undefined;
    const meta = this.meta.get(reservation);
    const cfg = this.deps.config();
    const views: BudgetView[] = [];
    const settled: SettledLine[] = [];
    const alerts: Promise<void>[] = [];
    reservation.lines.forEach((spec, i) => {
      const balance = result.balances[i];
      if (!balance) return;
      this.deps.cache.remember(spec, balance);
      const budget = meta?.budgets[i] ?? findBudget(cfg, spec.budgetId);
      if (!budget) return;
      const resetsAtMs = meta ? (meta.resetsAtMs[i] ?? null) : resetOf(budget, spec, this.deps.clock());
      views.push(viewOf(budget, spec, balance, resetsAtMs));
      settled.push({ budget, line: spec, balance });
      const before = result.spentBeforeNano[i] ?? balance.spentNano;
      alerts.push(...this.deps.alerts.crossed(budget, spec, before, balance));
    });
    if (settled.length > 0) safe(this.deps.onSettled, settled, this.deps.clock());
    await Promise.all(alerts);
    return views.length > 0 ? tightestOf(views) : undefined;
  }

  /** One reaping pass: reservations whose lease expired are settled at their reserved amount. */
  async reapNow(): Promise<number> {
    if (this.reaping) return 0;
    this.reaping = true;
    try {
      const count = await this.deps.store.reapExpired(this.deps.clock());
      if (count > 0) safe(this.deps.metrics.onExpired, count);
      return count;
    } catch {
      // Counted by the instrumented store; the next pass (or any reserve) reaps them.
      return 0;
    } finally {
      this.reaping = false;
    }
  }

  pendingRetries(): number {
    return this.retries.size;
  }

  flushRetries(): Promise<number> {
    return this.retries.flush();
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    this.retries.close();
    await this.retries.flush();
    this.deps.leases.close();
  }
}
