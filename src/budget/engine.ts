/**
 * The budget engine: admission (model, output cap, one atomic reservation on every budget or none)
 * and settlement (the real cost, retries through store outages, expired leases), sharing a cache
 * of the balances last seen and the once-per-period alerts. The store is the source of truth.
 * Refusals are values (budget/denials.ts); the HTTP edge words them.
 */
import type { RuntimeModel } from '../config/runtime.js';
import type { LineBalance } from '../store/types.js';
import type { Usage } from '../usage.js';
import { BudgetAdmission, budgetsOf } from './admission.js';
import { BalanceCache } from './balance-cache.js';
import { BudgetAlerts } from './budget-alerts.js';
import type { BudgetEngineOptions, ManagedBudgetEngine, RenewPass } from './engine-types.js';
import { LeaseKeeper } from './leases.js';
import { lineAt } from './lines.js';
import { Metering } from './metering.js';
import { allowedModelsOf } from './model-rights.js';
import { linesForIdentity } from './scopes.js';
import { Settlement } from './settlement.js';
import type {
  Admission,
  AdmissionDenied,
  AdmissionGranted,
  AdmissionRequest,
  BudgetView,
  ExtendOutcome,
  Identity,
  Reservation,
  SettleOutcome,
} from './types.js';
import { FreedWaiters } from './waiting.js';

export { FALLBACK_OUTPUT_CAP } from './admission-plan.js';
export type {
  BudgetEngineOptions,
  BudgetEvent,
  EngineMetricsHooks,
  ManagedBudgetEngine,
  SettledLine,
} from './engine-types.js';

export function createBudgetEngine(options: BudgetEngineOptions): ManagedBudgetEngine {
  return new Engine(options);
}

class Engine implements ManagedBudgetEngine {
  private readonly cache = new BalanceCache();
  private readonly admission: BudgetAdmission;
  private readonly settlement: Settlement;
  private readonly metering: Metering;
  private readonly waiters: FreedWaiters;
  private readonly leases: LeaseKeeper;

  constructor(private readonly options: BudgetEngineOptions) {
    const clock = options.clock ?? Date.now;
    const metrics = options.metrics ?? {};
    const alerts = new BudgetAlerts(options.store, clock, options.onEvent);
    this.leases = new LeaseKeeper({ store: options.store, config: options.config, clock, metrics });
    this.settlement = new Settlement({
      store: options.store,
      config: options.config,
      clock,
      cache: this.cache,
      alerts,
      metrics,
      onSettled: options.onSettled,
      retry: options.retry,
      reapIntervalMs: options.reapIntervalMs ?? options.config().budgeting.renewEveryMs,
      leases: this.leases,
    });
    this.waiters = new FreedWaiters(options.store);
    this.metering = new Metering({
      store: options.store,
      config: options.config,
      clock,
      cache: this.cache,
      leases: this.leases,
    });
    this.admission = new BudgetAdmission({
      waiters: this.waiters,
      store: options.store,
      config: options.config,
      cache: this.cache,
      alerts,
      settlement: this.settlement,
      metrics,
      onUnavailable: options.onUnavailable,
    });
  }

  admit(request: AdmissionRequest): Promise<Admission> {
    return this.admission.admit(request);
  }

  precheck(request: AdmissionRequest): Promise<AdmissionDenied | undefined> {
    return this.admission.precheckOnly(request);
  }

  preview(request: AdmissionRequest): Promise<Admission & { budgets: BudgetView[] }> {
    return this.admission.preview(request);
  }

  settle(reservation: Reservation | null, model: RuntimeModel, usage: Usage): Promise<SettleOutcome> {
    return this.settlement.settle(reservation, model, usage);
  }

  release(reservation: Reservation | null): Promise<void> {
    return this.settlement.release(reservation);
  }

  extend(admission: AdmissionGranted, addCap: number, minAddCap: number): Promise<ExtendOutcome> {
    return this.metering.extend(admission, addCap, minAddCap);
  }

  farFromEnd(admission: AdmissionGranted, tokens: number): boolean {
    return this.metering.farFromEnd(admission, tokens);
  }

  /** Every line the caller could touch with a model it may use; StoreUnavailableError passes through. */
  async budgetsFor(identity: Identity, nowMs: number): Promise<BudgetView[]> {
    const cfg = this.options.config();
    const allowed = allowedModelsOf(cfg, identity);
    const usable = [...cfg.models.values()].filter((m) => !allowed || allowed.has(m.name));
    // A trial visitor sees its own trial line only: never the global or another's spend.
    const budgets = identity.anonymous ? [cfg.anonymous.budget] : budgetsOf(cfg, false);
    const lines = linesForIdentity(budgets, identity, usable).map((scoped) => ({
      scoped,
      ...lineAt(scoped.budget, scoped.instance, nowMs),
    }));
    if (lines.length === 0) return [];
    const specs = lines.map((l) => l.spec);
    const balances: LineBalance[] = await this.options.store.balances(specs);
    this.cache.rememberAll(specs, balances);
    return lines.map((l, i) => this.cache.view(l.scoped.budget, l.spec, l.period, balances[i]));
  }

  reapNow(): Promise<number> {
    return this.settlement.reapNow();
  }

  renewLeases(): Promise<RenewPass> {
    return this.leases.renewNow();
  }

  pendingRetries(): number {
    return this.settlement.pendingRetries();
  }

  flushRetries(): Promise<number> {
    return this.settlement.flushRetries();
  }

  close(): Promise<void> {
    this.waiters.close();
    return this.settlement.close();
  }
}
