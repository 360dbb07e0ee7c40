/**
 * The budget engine: for each request, which budgets apply, which model serves it, what output cap
 * it may use, and one atomic reservation on every budget (or none); then settling at the real cost,
 * with once-per-period alerts. The store is the source of truth; this engine keeps only a small
 * cache of the balances it last saw, to plan downgrades without an extra round trip.
 */
import { randomUUID } from 'node:crypto';
import type { RuntimeBudget, RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { formatUsd, type Nano } from '../money.js';
import {
  type BudgetStore,
  type LineBalance,
  type LineSpec,
  type ReserveResult,
  type SettleResult,
  StoreUnavailableError,
} from '../store/types.js';
import { costOfUsage, type Usage } from '../usage.js';
import type {
  BudgetEngineOptions,
  BudgetEvent,
  EngineMetricsHooks,
  ManagedBudgetEngine,
  SettledLine,
} from './engine-types.js';
import {
  attributes,
  cacheKey,
  committed,
  findBudget,
  resetOf,
  tightestOf,
  viewOf,
  zeroBalance,
} from './engine-views.js';
import { simulateReserve } from './fit.js';
import { lineAt, lineSpecOf } from './lines.js';
import { cachedPeriodOf, type PeriodInfo, ttlSecondsFor } from './periods.js';
import { downgradeAtRatio, downgradeChain, thresholdNano } from './policy.js';
import { amountFor } from './reserve-decision.js';
import { RetryQueue } from './retry.js';
import { linesFor, linesForIdentity, type ScopedLine } from './scopes.js';
import type {
  Admission,
  AdmissionDenied,
  AdmissionGranted,
  AdmissionRequest,
  BudgetView,
  Identity,
  Reservation,
  SettleOutcome,
} from './types.js';

export type {
  BudgetEngineOptions,
  BudgetEvent,
  EngineMetricsHooks,
  ManagedBudgetEngine,
  SettledLine,
  StoreOperation,
} from './engine-types.js';

/** Output cap used when neither the client nor the model config gives one (the gateway sends it upstream). */
export const FALLBACK_OUTPUT_CAP = 4096;
/** Bounded re-planning after the store asks for a downgrade. */
const MAX_ROUNDS = 8;
const CACHE_LIMIT = 50_000;

interface PlannedLine {
  scoped: ScopedLine;
  period: PeriodInfo;
  spec: LineSpec;
  /** The threshold ratio behind spec.downgradeAtNano, when set. */
  downgradeAt: number | undefined;
}

interface Plan {
  model: RuntimeModel;
  lines: PlannedLine[];
  promptTokens: number;
  /** The cap asked of the store: the client's (or the model's maximum), never above the model's maximum. */
  cap: number;
  minCap: number;
  fixedPico: number;
  outputPico: number;
}

interface ReservationMeta {
  budgets: RuntimeBudget[];
  resetsAtMs: Array<number | null>;
}

type Attempt = (plan: Plan) => Promise<ReserveResult>;

export function createBudgetEngine(options: BudgetEngineOptions): ManagedBudgetEngine {
  return new Engine(options);
}

function safe<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  if (!fn) return;
  try {
    fn(...args);
  } catch {
    // Metrics and event hooks must never break budgeting.
  }
}

class Engine implements ManagedBudgetEngine {
  private readonly store: BudgetStore;
  private readonly clock: () => number;
  private readonly metrics: EngineMetricsHooks;
  /** Last balances seen per `${instance}\n${period}`; insertion order doubles as LRU order. */
  private readonly cache = new Map<string, LineBalance>();
  private readonly meta = new WeakMap<Reservation, ReservationMeta>();
  private readonly retries: RetryQueue;
  private readonly reaper: NodeJS.Timeout | undefined;
  private reaping = false;

  constructor(private readonly options: BudgetEngineOptions) {
    this.store = options.store;
    this.clock = options.clock ?? Date.now;
    this.metrics = options.metrics ?? {};
    this.retries = new RetryQueue({
      ...options.retry,
      onDrop: (count) => {
        for (let i = 0; i < count; i++) safe(this.metrics.onUnrecorded, 'settle' as const);
        options.retry?.onDrop?.(count);
      },
    });
    const interval = options.reapIntervalMs ?? 5000;
    if (interval > 0) {
      this.reaper = setInterval(() => void this.reapNow(), interval);
      this.reaper.unref();
    }
  }

  // ---- admission ---------------------------------------------------------------------------

  async admit(request: AdmissionRequest): Promise<Admission> {
    const cfg = this.options.config();
    const forbidden = this.checkAllowed(cfg, request);
    if (forbidden) return forbidden;
    const reservationId = randomUUID();
    return this.decide(cfg, request, reservationId, (plan) =>
      this.store.reserve({
        reservationId,
        lines: plan.lines.map((l) => l.spec),
        fixedPico: plan.fixedPico,
        outputPico: plan.outputPico,
        requestedCap: plan.cap,
        minCap: plan.minCap,
        nowMs: request.nowMs,
        leaseExpiresAtMs: request.nowMs + cfg.budgeting.leaseMs,
      }),
    );
  }

  async preview(request: AdmissionRequest): Promise<Admission & { budgets: BudgetView[] }> {
    const cfg = this.options.config();
    const forbidden = this.checkAllowed(cfg, request);
    if (forbidden) return { ...forbidden, budgets: [] };
    let views: BudgetView[] = [];
    const admission = await this.decide(cfg, request, null, async (plan) => {
      const specs = plan.lines.map((l) => l.spec);
      const balances = await this.store.balances(specs);
      const result = simulateReserve({ ...this.reserveShape(plan), lines: specs }, balances);
      // Views show balances as they stand, not with the simulated reservation added.
      views = plan.lines.map((line, i) => this.view(line.scoped.budget, line.spec, line.period, balances[i]));
      return result;
    });
    return { ...admission, budgets: views };
  }

  private reserveShape(plan: Plan) {
    return {
      fixedPico: plan.fixedPico,
      outputPico: plan.outputPico,
      requestedCap: plan.cap,
      minCap: plan.minCap,
    };
  }

  private allowedModels(cfg: RuntimeConfig, identity: Identity): ReadonlySet<string> | undefined {
    if (identity.allowedModels) return identity.allowedModels;
    if (identity.anonymous && cfg.anonymous.models.size > 0) return cfg.anonymous.models;
    return undefined;
  }

  private budgetsOf(cfg: RuntimeConfig, identity: Identity): RuntimeBudget[] {
    return identity.anonymous ? [...cfg.budgets, cfg.anonymous.budget] : cfg.budgets;
  }

  private checkAllowed(cfg: RuntimeConfig, request: AdmissionRequest): AdmissionDenied | undefined {
    const allowed = this.allowedModels(cfg, request.identity);
    if (!allowed || allowed.has(request.model.name)) return undefined;
    safe(this.metrics.onRejected, 'forbidden_model' as const);
    const who = request.identity.anonymous ? 'trial users' : `key "${request.identity.keyId}"`;
    return {
      ok: false,
      error: new GatewayError('forbidden_model', `Model "${request.model.name}" is not allowed for ${who}.`, {
        param: 'model',
      }),
    };
  }

  /**
   * Plans, then attempts (reserve, or a simulation for preview); a 'downgrade' answer updates the
   * cached balances (the store's fresher view wins) and plans again with the cheaper model.
   */
  private async decide(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    reservationId: string | null,
    attempt: Attempt,
  ): Promise<Admission> {
    const reserving = reservationId !== null;
    const allowed = this.allowedModels(cfg, request.identity);
    const budgets = this.budgetsOf(cfg, request.identity);
    const forced = new Map<string, number>();
    const promptTokens = new Map<string, number>();
    let plan: Plan | undefined;
    let lastDowngradeLine: PlannedLine | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const model = this.chooseModel(cfg, request, budgets, allowed, forced);
      plan = await this.plan(cfg, request, model, budgets, allowed, promptTokens);
      if (plan.lines.length === 0) {
        const amountNano = amountFor(plan.fixedPico, plan.outputPico, plan.cap);
        const reservation = reservationId === null ? null : { id: reservationId, amountNano, lines: [] };
        return this.granted(request, plan, reservation, plan.cap, amountNano, []);
      }
      let result: ReserveResult;
      try {
        result = await attempt(plan);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        if (reservationId !== null && error.maybeApplied) this.releaseLate(reservationId);
        return this.unavailable(cfg, request, plan, reserving);
      }
      this.remember(plan.lines, result.balances);
      if (result.expiredSettled > 0) safe(this.metrics.onExpired, result.expiredSettled);
      if (result.status === 'reserved') {
        const reservation =
          reservationId === null
            ? null
            : { id: reservationId, amountNano: result.amountNano, lines: plan.lines.map((l) => l.spec) };
        return this.granted(
          request,
          plan,
          reservation,
          result.grantedCap,
          result.amountNano,
          result.balances,
        );
      }
      const line = plan.lines[result.lineIndex];
      const balance = result.balances[result.lineIndex];
      if (!line || !balance) throw new Error(`store answered with an unknown line index ${result.lineIndex}`);
      if (result.status === 'rejected')
        return this.rejected(cfg, request, plan, result.lineIndex, result.balances);
      // 'downgrade': with fresh balances the next plan usually agrees; when the store's arithmetic
      // says the threshold is reached but the ratio sits on the boundary, force it.
      lastDowngradeLine = line;
      const at = line.downgradeAt;
      if (at !== undefined && committed(balance) >= thresholdNano(at, balance.limitNano)) {
        forced.set(line.scoped.instance, Math.max(forced.get(line.scoped.instance) ?? 0, at));
      }
    }
    // Unreachable with an acyclic config; never let the expensive model through.
    const index = plan && lastDowngradeLine ? plan.lines.indexOf(lastDowngradeLine) : -1;
    if (!plan || index < 0) throw new Error('budget planning did not converge');
    const balances = plan.lines.map((l) => this.cached(l.spec) ?? zeroBalance(l.spec));
    return this.rejected(cfg, request, plan, index, balances);
  }

  /** The served model: the requested one, stepped down while cached balances pass downgrade thresholds. */
  private chooseModel(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    budgets: readonly RuntimeBudget[],
    allowed: ReadonlySet<string> | undefined,
    forced: ReadonlyMap<string, number>,
  ): RuntimeModel {
    let current = request.model;
    const visited = new Set([current.name]);
    for (let step = 0; step < MAX_ROUNDS; step++) {
      const ratios = linesFor(budgets, attributes(request.identity, current)).map((line) => {
        const period = cachedPeriodOf(line.budget.period, line.budget.timezone, request.nowMs);
        const balance = this.cache.get(cacheKey(line.instance, period.id));
        const ratio = balance && balance.limitNano > 0 ? committed(balance) / balance.limitNano : 0;
        return { budget: line.budget, usedRatio: Math.max(ratio, forced.get(line.instance) ?? 0) };
      });
      const served = downgradeChain(current.name, ratios, allowed, cfg.models).at(-1);
      const next = served === undefined ? undefined : cfg.models.get(served);
      if (!next || visited.has(next.name)) break;
      visited.add(next.name);
      current = next;
    }
    return current;
  }

  private async plan(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    model: RuntimeModel,
    budgets: readonly RuntimeBudget[],
    allowed: ReadonlySet<string> | undefined,
    promptTokensCache: Map<string, number>,
  ): Promise<Plan> {
    let promptTokens = promptTokensCache.get(model.name);
    if (promptTokens === undefined) {
      promptTokens = await request.promptTokensFor(model);
      promptTokensCache.set(model.name, promptTokens);
    }
    let cap = 0;
    if (!request.outputless) {
      const max = model.maxOutputTokens;
      cap = request.requestedCap ?? max ?? FALLBACK_OUTPUT_CAP;
      if (max !== undefined) cap = Math.min(cap, max);
      cap = Math.max(0, Math.floor(cap));
    }
    const lines = linesFor(budgets, attributes(request.identity, model)).map((scoped) => {
      const budget = scoped.budget;
      const period = cachedPeriodOf(budget.period, budget.timezone, request.nowMs);
      const downgradeAt = downgradeAtRatio(budget, model.name, allowed, cfg.models);
      // The store compares committed against this; the ratio is of the effective limit, known
      // from the last balance seen in this period, else the base limit (so a stale view can only
      // downgrade early, and the store's answer then refreshes the cache and the plan).
      const limitForRatio =
        this.cache.get(cacheKey(scoped.instance, period.id))?.limitNano ?? budget.limitNano;
      const spec = lineSpecOf(
        budget,
        scoped.instance,
        period,
        downgradeAt === undefined ? -1 : thresholdNano(downgradeAt, limitForRatio),
      );
      return { scoped, period, spec, downgradeAt };
    });
    return {
      model,
      lines,
      promptTokens,
      cap,
      minCap: Math.min(cap, cfg.budgeting.minOutputTokens),
      fixedPico: promptTokens * model.price.input,
      outputPico: model.price.output,
    };
  }

  private granted(
    request: AdmissionRequest,
    plan: Plan,
    reservation: Reservation | null,
    grantedCap: number,
    amountNano: Nano,
    balances: readonly LineBalance[],
  ): AdmissionGranted {
    if (reservation) {
      this.meta.set(reservation, {
        budgets: plan.lines.map((l) => l.scoped.budget),
        resetsAtMs: plan.lines.map((l) => l.period.endMs),
      });
    }
    const views = plan.lines.map((l, i) => this.view(l.scoped.budget, l.spec, l.period, balances[i]));
    const outputless = request.outputless;
    const clamped = !outputless && grantedCap < plan.cap;
    const downgradedFrom = plan.model.name !== request.model.name ? request.model.name : undefined;
    if (downgradedFrom) safe(this.metrics.onDowngrade, downgradedFrom, plan.model.name);
    if (clamped) safe(this.metrics.onClamped, plan.model.name);
    return {
      ok: true,
      reservation,
      servedModel: plan.model,
      ...(downgradedFrom ? { downgradedFrom } : {}),
      outputCap: outputless ? undefined : grantedCap,
      capChanged: !outputless && grantedCap !== request.requestedCap,
      clamped,
      estimateNano: amountNano,
      ...(views.length > 0 ? { tightest: tightestOf(views) } : {}),
      promptTokens: plan.promptTokens,
    };
  }

  private rejected(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    plan: Plan,
    lineIndex: number,
    balances: readonly LineBalance[],
  ): AdmissionDenied {
    const line = plan.lines[lineIndex]!;
    const balance = balances[lineIndex] ?? zeroBalance(line.spec);
    const views = plan.lines.map((l, i) => this.view(l.scoped.budget, l.spec, l.period, balances[i]));
    const estimateNano = amountFor(plan.fixedPico, plan.outputPico, plan.cap);
    const minimumNano = amountFor(plan.fixedPico, plan.outputPico, plan.minCap);
    const budgetId = line.scoped.budget.id;
    const resetsAt = line.period.endMs;
    const remaining = Math.max(0, balance.limitNano - committed(balance));
    const when =
      resetsAt === null
        ? 'It is prepaid and does not reset: ask an administrator for a top-up.'
        : `It resets at ${new Date(resetsAt).toISOString()}.`;
    const message = request.identity.anonymous
      ? cfg.anonymous.upgradeMessage
      : `Budget "${budgetId}" is exhausted: $${formatUsd(remaining)} left, this request needs at least ` +
        `$${formatUsd(minimumNano)}. ${when}`;
    const headers: Record<string, string> = { 'x-should-retry': 'false' };
    if (resetsAt !== null)
      headers['retry-after'] = String(Math.max(1, Math.ceil((resetsAt - request.nowMs) / 1000)));
    safe(this.metrics.onRejected, 'budget_exceeded' as const);
    // "Exhausted" when the line cannot serve even a minimal answer of this model, whatever the prompt.
    if (remaining < amountFor(0, plan.outputPico, plan.minCap) || remaining === 0) {
      void this.fireOnce(line.scoped.budget, line.spec, 'exhausted', undefined, balance);
    }
    return {
      ok: false,
      error: new GatewayError('budget_exceeded', message, { headers }),
      estimateNano,
      servedModel: plan.model,
      budgets: views,
    };
  }

  private unavailable(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    plan: Plan,
    reserving: boolean,
  ): Admission {
    safe(this.metrics.onStoreError, reserving ? ('reserve' as const) : ('balances' as const));
    const mode = this.options.onUnavailable ?? cfg.file.store.on_unavailable;
    if (mode === 'allow') {
      if (reserving) safe(this.metrics.onUnrecorded, 'reserve' as const);
      const amountNano = amountFor(plan.fixedPico, plan.outputPico, plan.cap);
      const admission = this.granted(request, { ...plan, lines: [] }, null, plan.cap, amountNano, []);
      return admission;
    }
    safe(this.metrics.onRejected, 'store_unavailable' as const);
    return {
      ok: false,
      error: new GatewayError(
        'store_unavailable',
        'The budget store is unavailable, so spend cannot be checked; the request was not sent upstream. Retry shortly.',
      ),
      estimateNano: amountFor(plan.fixedPico, plan.outputPico, plan.cap),
      servedModel: plan.model,
    };
  }

  // ---- settling ----------------------------------------------------------------------------

  async settle(reservation: Reservation | null, model: RuntimeModel, usage: Usage): Promise<SettleOutcome> {
    const costNano = costOfUsage(usage, model.price);
    if (!reservation || reservation.lines.length === 0) return { costNano };
    const run = () => this.store.settle(reservation.id, costNano);
    try {
      const result = await run();
      return { costNano, tightest: await this.afterSettle(reservation, result) };
    } catch {
      this.queue('settle', reservation, run);
      return { costNano };
    }
  }

  async release(reservation: Reservation | null): Promise<void> {
    if (!reservation || reservation.lines.length === 0) return;
    const run = () => this.store.release(reservation.id);
    try {
      await this.afterSettle(reservation, await run());
    } catch {
      this.queue('release', reservation, run);
    }
  }

  /**
   * A reserve that timed out after it was sent may still be applied by the store: without this its
   * amount would stay reserved until the lease expired, then count as spent for a request that was
   * never forwarded. Releasing by id once the store answers is a no-op when it never landed.
   */
  private releaseLate(reservationId: string): void {
    safe(this.metrics.onRetryQueued, 'release' as const);
    this.retries.enqueue(async () => {
      try {
        await this.store.release(reservationId);
        return true;
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) safe(this.metrics.onStoreError, 'release' as const);
        return false;
      }
    });
  }

  private queue(
    operation: 'settle' | 'release',
    reservation: Reservation,
    run: () => Promise<SettleResult>,
  ): void {
    safe(this.metrics.onStoreError, operation);
    safe(this.metrics.onRetryQueued, operation);
    this.retries.enqueue(async () => {
      try {
        await this.afterSettle(reservation, await run());
        return true;
      } catch (retryError) {
        if (!(retryError instanceof StoreUnavailableError)) safe(this.metrics.onStoreError, operation);
        return false;
      }
    });
  }

  /** Updates the cache, fires threshold and exhaustion alerts, and returns the tightest line. */
  private async afterSettle(reservation: Reservation, result: SettleResult): Promise<BudgetView | undefined> {
    if (result.status !== 'settled') return undefined;
    const meta = this.meta.get(reservation);
    const cfg = this.options.config();
    const views: BudgetView[] = [];
    const settled: SettledLine[] = [];
    const alerts: Promise<void>[] = [];
    reservation.lines.forEach((spec, i) => {
      const balance = result.balances[i];
      if (!balance) return;
      this.rememberOne(spec, balance);
      const budget = meta?.budgets[i] ?? findBudget(cfg, spec.budgetId);
      if (!budget) return;
      const resetsAtMs = meta ? (meta.resetsAtMs[i] ?? null) : resetOf(budget, spec, this.clock());
      views.push(viewOf(budget, spec, balance, resetsAtMs));
      settled.push({ budget, line: spec, balance });
      const before = result.spentBeforeNano[i] ?? balance.spentNano;
      const after = balance.spentNano;
      for (const threshold of budget.thresholds) {
        if (!threshold.alert) continue;
        const mark = thresholdNano(threshold.at, balance.limitNano);
        if (before < mark && mark <= after) {
          alerts.push(this.fireOnce(budget, spec, 'threshold', threshold.at, balance));
        }
      }
      if (before < balance.limitNano && balance.limitNano <= after) {
        alerts.push(this.fireOnce(budget, spec, 'exhausted', undefined, balance));
      }
    });
    if (settled.length > 0) safe(this.options.onSettled, settled, this.clock());
    await Promise.all(alerts);
    return views.length > 0 ? tightestOf(views) : undefined;
  }

  /** Fires an alert when this caller is the one (across instances) to claim it for the period. */
  private async fireOnce(
    budget: RuntimeBudget,
    spec: LineSpec,
    type: BudgetEvent['type'],
    at: number | undefined,
    balance: LineBalance,
  ): Promise<void> {
    // A trial running out is how a trial ends, not an incident: one alert per visitor would only
    // flood the receivers (and cost a store call per rejected visitor).
    if (budget.source === 'anonymous') return;
    try {
      const name = type === 'threshold' ? `threshold:${at}` : 'exhausted';
      const won = await this.store.claimOnce(
        spec.instance,
        spec.period,
        name,
        ttlSecondsFor(budget.period),
        this.clock(),
      );
      if (!won) return;
      safe(this.options.onEvent, {
        type,
        budgetId: budget.id,
        instance: spec.instance,
        period: spec.period,
        ...(at === undefined ? {} : { at }),
        spentNano: balance.spentNano,
        limitNano: balance.limitNano,
        timeMs: this.clock(),
      });
    } catch {
      safe(this.metrics.onStoreError, 'claimOnce' as const);
    }
  }

  // ---- listing -----------------------------------------------------------------------------

  async budgetsFor(identity: Identity, nowMs: number): Promise<BudgetView[]> {
    const cfg = this.options.config();
    const allowed = this.allowedModels(cfg, identity);
    const usable = [...cfg.models.values()].filter((m) => !allowed || allowed.has(m.name));
    const lines = linesForIdentity(this.budgetsOf(cfg, identity), identity, usable).map((scoped) => {
      const budget = scoped.budget;
      const { spec, period } = lineAt(budget, scoped.instance, nowMs);
      return { scoped, period, spec, downgradeAt: undefined };
    });
    if (lines.length === 0) return [];
    let balances: LineBalance[];
    try {
      balances = await this.store.balances(lines.map((l) => l.spec));
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      safe(this.metrics.onStoreError, 'balances' as const);
      throw new GatewayError(
        'store_unavailable',
        'The budget store is unavailable; balances cannot be read now.',
      );
    }
    this.remember(lines, balances);
    return lines.map((l, i) => this.view(l.scoped.budget, l.spec, l.period, balances[i]));
  }

  // ---- background --------------------------------------------------------------------------

  async reapNow(): Promise<number> {
    if (this.reaping) return 0;
    this.reaping = true;
    try {
      const count = await this.store.reapExpired(this.clock());
      if (count > 0) safe(this.metrics.onExpired, count);
      return count;
    } catch {
      safe(this.metrics.onStoreError, 'reapExpired' as const);
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
  }

  // ---- cache -------------------------------------------------------------------------------

  private view(
    budget: RuntimeBudget,
    spec: LineSpec,
    period: PeriodInfo,
    balance: LineBalance | undefined,
  ): BudgetView {
    return viewOf(budget, spec, balance ?? this.cached(spec) ?? zeroBalance(spec), period.endMs);
  }

  private cached(spec: LineSpec): LineBalance | undefined {
    return this.cache.get(cacheKey(spec.instance, spec.period));
  }

  private remember(lines: readonly PlannedLine[], balances: readonly LineBalance[]): void {
    lines.forEach((line, i) => {
      const balance = balances[i];
      if (balance) this.rememberOne(line.spec, balance);
    });
  }

  private rememberOne(spec: LineSpec, balance: LineBalance): void {
    const key = cacheKey(spec.instance, spec.period);
    this.cache.delete(key);
    this.cache.set(key, { ...balance });
    if (this.cache.size > CACHE_LIMIT) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
