/**
 * The budget engine's options, events and hooks: what its owner (gateway.ts) wires to alerts,
 * metrics and forecasts.
 */
import type { RuntimeBudget, RuntimeConfig } from '../config/runtime.js';
import type { LimitKind } from '../limits/types.js';
import type { Nano } from '../money.js';
import type { BudgetStore, LineBalance, LineSpec } from '../store/types.js';
import type { RetryQueueOptions } from './retry.js';
import type { BudgetEngine } from './types.js';

export interface BudgetEvent {
  type: 'threshold' | 'exhausted';
  budgetId: string;
  instance: string;
  period: string;
  /** The threshold ratio, for 'threshold' events. */
  at?: number;
  spentNano: Nano;
  /** Effective limit (base + rollover + top-ups). */
  limitNano: Nano;
  timeMs: number;
}

/** One budget line as a settle left it, for watchers of balances (forecast alerts). */
export interface SettledLine {
  budget: RuntimeBudget;
  line: LineSpec;
  balance: LineBalance;
}

/**
 * Optional callbacks for the counts only the engine sees; none of them may throw (errors are
 * swallowed). Rejections, downgrades, clamps and store errors are counted from request records and
 * the instrumented store instead (src/metrics.ts), which also keeps previews out of them.
 */
/** What a lease renewal did to a reservation (src/budget/leases.ts). */
export type LeaseRenewalResult = 'renewed' | 'gone' | 'failed' | 'lapsed' | 'overdue';

export interface EngineMetricsHooks {
  /** Reservations whose lease expired, settled at their reserved amount (by any reaping path). */
  onExpired?(count: number): void;
  /** Reservations a renewal pass renewed, found gone (reaped), failed to reach (lapsed: past the lease), or gave up on. */
  onLeaseRenewal?(result: LeaseRenewalResult, count: number): void;
  /** Spend not counted: a fail-open admission, or a queued settle/release that was given up on. */
  onUnrecorded?(operation: 'reserve' | 'settle' | 'release'): void;
  /** A settle or release waits in the retry queue for the store to come back. */
  onRetryQueued?(operation: 'settle' | 'release'): void;
  /** A request refused by a rate or concurrency limit (label: the configured limit id). */
  onLimited?(limitId: string, kind: LimitKind): void;
}

export interface BudgetEngineOptions {
  config: () => RuntimeConfig;
  store: BudgetStore;
  /** Defaults to the config's store.on_unavailable, read at each request (reloads apply). */
  onUnavailable?: 'reject' | 'allow';
  clock?: () => number;
  onEvent?: (event: BudgetEvent) => void;
  /** Called after every settle with the lines' new balances; must be cheap (it runs before the response). */
  onSettled?: (lines: SettledLine[], nowMs: number) => void;
  metrics?: EngineMetricsHooks;
  /**
   * How often expired leases are reaped; 0 disables the background reaper. Default: the config's
   * budgeting.lease_renew_ms (5000), so a dead instance's money comes back about one lease after.
   */
  reapIntervalMs?: number;
  retry?: RetryQueueOptions;
}

/** The engine, plus what operations and tests need beyond the pipeline's interface. */
export interface ManagedBudgetEngine extends BudgetEngine {
  /** Settles/releases waiting for the store. */
  pendingRetries(): number;
  /** Retries every queued settle/release now; returns how many are still pending. */
  flushRetries(): Promise<number>;
  /** One reaping pass now; returns how many expired reservations were settled. */
  reapNow(): Promise<number>;
  /** One lease renewal pass now, for every reservation this engine holds. */
  renewLeases(): Promise<RenewPass>;
}

/** What one renewal pass did, reservation by reservation. */
export interface RenewPass {
  renewed: number;
  gone: number;
  /** The store did not answer; the lease written last is still running. */
  failed: number;
  /** The store did not answer and the lease has run out: another instance may have reaped it. */
  lapsed: number;
  overdue: number;
}
