/**
 * Admission: which model serves a request, what output cap it may use, and one atomic reservation
 * on every budget that applies (or none), or a denial as values. Preview runs the same decision
 * against a simulated reserve and reserves nothing.
 */
import { randomUUID } from 'node:crypto';
import type { RuntimeBudget, RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import type { LimitRefusal, LimitSpec, LimitUse } from '../limits/types.js';
import type { Nano } from '../money.js';
import {
  type BudgetStore,
  type LineBalance,
  type ReserveResult,
  StoreResetError,
  StoreUnavailableError,
} from '../store/types.js';
import {
  chooseModel,
  MAX_ROUNDS,
  meteredUpstreamCap,
  type Plan,
  type PlanContext,
  type PlannedLine,
  planFor,
} from './admission-plan.js';
import type { BalanceCache } from './balance-cache.js';
import { type BudgetAlerts, safe } from './budget-alerts.js';
import type { EngineMetricsHooks } from './engine-types.js';
import { committed, tightestOf, zeroBalance } from './engine-views.js';
import { simulateReserve } from './fit.js';
import { limitedDenial, limitsForRequest, limitViews } from './limited.js';
import { allowedModelsOf, forbiddenModel } from './model-rights.js';
import { thresholdNano } from './policy.js';
import { precheck } from './precheck.js';
import { amountFor } from './reserve-decision.js';
import type { Settlement } from './settlement.js';
import type {
  Admission,
  AdmissionDenied,
  AdmissionGranted,
  AdmissionRequest,
  BudgetView,
  LimitView,
  Reservation,
} from './types.js';
import { type FreedWaiters, Waits } from './waiting.js';

export interface AdmissionDeps {
  store: BudgetStore;
  config: () => RuntimeConfig;
  cache: BalanceCache;
  alerts: BudgetAlerts;
  settlement: Pick<Settlement, 'track' | 'releaseLate'>;
  metrics: EngineMetricsHooks;
  /** Overrides the config's store.on_unavailable. */
  onUnavailable: 'reject' | 'allow' | undefined;
  waiters: FreedWaiters;
}

/**
 * One reserve (or its simulation): `nowMs` the attempt's time, `waitUntilMs` set while it may wait,
 * `limits` the served model's rate and concurrency limits (checked in the same atomic step).
 */
type Attempt = (
  plan: Plan,
  nowMs: number,
  waitUntilMs: number | undefined,
  limits: LimitSpec[],
) => Promise<ReserveResult>;

/** The budgets a caller falls under: the configured ones, plus the trial's (each, and all) for anonymous users. */
export function budgetsOf(cfg: RuntimeConfig, anonymous: boolean): RuntimeBudget[] {
  if (!anonymous) return cfg.budgets;
  const total = cfg.limits.trialTotal;
  return total ? [...cfg.budgets, cfg.anonymous.budget, total] : [...cfg.budgets, cfg.anonymous.budget];
}

export class BudgetAdmission {
  constructor(private readonly deps: AdmissionDeps) {}

  async admit(request: AdmissionRequest): Promise<Admission> {
    const cfg = this.deps.config();
    const forbidden = forbiddenModel(cfg, request.identity, request.model);
    if (forbidden) return { ok: false, denial: forbidden };
    const reservationId = randomUUID();
    return this.decide(
      cfg,
      request,
      reservationId,
      (plan, nowMs, waitUntilMs, limits) =>
        this.deps.store.reserve({
          reservationId,
          lines: plan.lines.map((l) => l.spec),
          ...reserveShape(plan),
          nowMs,
          leaseExpiresAtMs: nowMs + cfg.budgeting.leaseMs,
          ...(waitUntilMs !== undefined ? { waitUntilMs } : {}),
          // A metered answer that may still wait is not cut at a share of what is free while others
          // hold money it may get back (their slices are held ahead of what they relayed): it waits
          // for them; past the wait it takes what is free (ReserveRequest.lowerOnlyWhenAlone).
          ...(plan.metered && waitUntilMs !== undefined ? { lowerOnlyWhenAlone: true } : {}),
          // Room kept for a metered answer's next slice (ReserveRequest.holdCap).
          ...(plan.metered && plan.cap > plan.reserveCap
            ? { holdCap: Math.min(plan.sliceCap, plan.cap - plan.reserveCap) }
            : {}),
          // A metered request counts its prompt and first slice; each extension adds its slice
          // (metering.ts), and its settle corrects them to the actual.
          ...(limits.length > 0
            ? { limits, limitAsk: { promptTokens: plan.promptTokens, tokensPerCap: plan.outputMultiplier } }
            : {}),
        }),
      (model) => limitsForRequest(cfg, request, model),
    );
  }

  async preview(request: AdmissionRequest): Promise<Admission & { budgets: BudgetView[] }> {
    const cfg = this.deps.config();
    const forbidden = forbiddenModel(cfg, request.identity, request.model);
    if (forbidden) return { ok: false, denial: forbidden, budgets: [] };
    let views: BudgetView[] = [];
    const admission = await this.decide(cfg, request, null, async (plan) => {
      const specs = plan.lines.map((l) => l.spec);
      const balances = await this.deps.store.balances(specs);
      const result = simulateReserve({ ...reserveShape(plan), lines: specs }, balances);
      // Views show balances as they stand, not with the simulated reservation added.
      views = plan.lines.map((line, i) =>
        this.deps.cache.view(line.scoped.budget, line.spec, line.period, balances[i]),
      );
      return result;
    });
    return { ...admission, budgets: views };
  }

  /**
   * The pre-check alone, for a large body probed off the main thread before it is parsed
   * (routes/proxy/early-refusal.ts): its refusal, or undefined (admit as usual).
   */
  async precheckOnly(request: AdmissionRequest): Promise<AdmissionDenied | undefined> {
    const cfg = this.deps.config();
    if (forbiddenModel(cfg, request.identity, request.model)) return undefined;
    const limitsOf = (model: RuntimeModel) => limitsForRequest(cfg, request, model);
    return this.precheckDenial(this.planContext(cfg, request), limitsOf);
  }

  /** A large prompt that cannot fit even at a lower bound of its tokens is refused uncounted. */
  private async precheckDenial(
    ctx: PlanContext,
    limitsOf: (model: RuntimeModel) => LimitSpec[],
  ): Promise<AdmissionDenied | undefined> {
    const early = await precheck(ctx, this.deps.store, limitsOf);
    if (early?.kind === 'rejected')
      return this.rejected(ctx.request, early.plan, early.lineIndex, early.balances);
    if (early) return this.limited(ctx.request, early.plan, early.limits, early.refusal, early.uses, [], 0);
    return undefined;
  }

  private planContext(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    forced = new Map<string, number>(),
  ): PlanContext {
    return {
      cfg,
      request,
      budgets: budgetsOf(cfg, request.identity.anonymous),
      allowed: allowedModelsOf(cfg, request.identity),
      cache: this.deps.cache,
      forced,
      promptTokens: new Map(),
    };
  }

  /**
   * Plans, then attempts (reserve, or a simulation for preview); a 'downgrade' answer updates the
   * cached balances (the store's fresher view wins) and plans again with the cheaper model. A
   * 'busy' answer (the money is held by requests in flight) waits for it to come back, up to
   * budgeting.max_wait_ms, then plans again (balances moved meanwhile); previews never wait.
   */
  private async decide(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    reservationId: string | null,
    attempt: Attempt,
    limitsOf: (model: RuntimeModel) => LimitSpec[] = () => [],
  ): Promise<Admission> {
    const forced = new Map<string, number>();
    const ctx = this.planContext(cfg, request, forced);
    const early = reservationId === null ? undefined : await this.precheckDenial(ctx, limitsOf);
    if (early) return early;
    let plan: Plan | undefined;
    let lastDowngradeLine: PlannedLine | undefined;
    const waitStart = performance.now();
    const maxWaitMs = reservationId === null ? 0 : cfg.budgeting.maxWaitMs;
    const waits = new Waits(this.deps.store, reservationId);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      plan = await planFor(ctx, chooseModel(ctx));
      const limits = limitsOf(plan.model);
      if (plan.lines.length === 0 && limits.length === 0) {
        waits.abandonAll();
        const amountNano = amountFor(plan.fixedPico, plan.outputPico, plan.reserveCap);
        const reservation = reservationId === null ? null : { id: reservationId, amountNano, lines: [] };
        return this.granted(request, plan, reservation, plan.reserveCap, amountNano, [], 0);
      }
      const waitedMs = performance.now() - waitStart;
      const nowMs = request.nowMs + Math.round(waitedMs);
      const waitUntilMs = maxWaitMs > waitedMs ? nowMs + Math.ceil(maxWaitMs - waitedMs) : undefined;
      let result: ReserveResult;
      try {
        result = await attempt(plan, nowMs, waitUntilMs, limits);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        if (reservationId !== null && error.maybeApplied) this.deps.settlement.releaseLate(reservationId);
        waits.abandonAll();
        // Fail closed whatever on_unavailable says: the counters are gone, not just out of reach.
        if (error instanceof StoreResetError) {
          return { ok: false, denial: { kind: 'store_reset' }, estimateNano: 0, servedModel: plan.model };
        }
        return this.unavailable(cfg, request, plan, reservationId !== null);
      }
      this.deps.cache.rememberAll(
        plan.lines.map((l) => l.spec),
        result.balances,
      );
      if (result.expiredSettled > 0) safe(this.deps.metrics.onExpired, result.expiredSettled);
      if (result.status === 'reserved') {
        const reservation =
          reservationId === null
            ? null
            : {
                id: reservationId,
                amountNano: result.amountNano,
                lines: plan.lines.map((l) => l.spec),
                ...(limits.length > 0 ? { limits } : {}),
                reservedAtMs: nowMs,
              };
        // The store took the id off the queues of the lines it reserved on; others it waited on stay.
        waits.abandonAll(plan.lines);
        return this.granted(
          request,
          plan,
          reservation,
          result.grantedCap,
          result.amountNano,
          result.balances,
          waitedMs,
          limitViews(limits, result.limitUses),
        );
      }
      if (result.status === 'limited') {
        // The store took the id off the queues of these lines (a limited request does not wait).
        waits.abandonAll();
        return this.limited(request, plan, limits, result, result.limitUses, result.balances, waitedMs);
      }
      const line = plan.lines[result.lineIndex];
      const balance = result.balances[result.lineIndex];
      if (!line || !balance) throw new Error(`store answered with an unknown line index ${result.lineIndex}`);
      if (result.status === 'rejected') {
        waits.abandonAll();
        return { ...this.rejected(request, plan, result.lineIndex, result.balances), waitedMs };
      }
      if (result.status === 'busy') {
        if (waitUntilMs === undefined) {
          waits.abandonAll();
          return this.busy(request, plan, result.lineIndex, result.balances, waitedMs);
        }
        waits.queued(plan.lines);
        await this.deps.waiters.wait(
          plan.lines.map((l) => l.spec),
          waits.attempts++,
          maxWaitMs - waitedMs,
        );
        // Waiting is not a planning round: the deadline bounds it.
        round--;
        continue;
      }
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
    const balances = plan.lines.map((l) => this.deps.cache.of(l.spec) ?? zeroBalance(l.spec));
    waits.abandonAll();
    return this.rejected(request, plan, index, balances);
  }

  private limited(
    request: AdmissionRequest,
    plan: Plan,
    limits: LimitSpec[],
    refusal: LimitRefusal,
    uses: LimitUse[],
    balances: readonly LineBalance[],
    waitedMs: number,
  ): AdmissionDenied {
    const limit = limits[refusal.limitIndex];
    if (limit) safe(this.deps.metrics.onLimited, limit.limitId, refusal.kind);
    return limitedDenial(request, plan, limits, refusal, uses, this.views(plan, balances), waitedMs);
  }

  private busy(
    request: AdmissionRequest,
    plan: Plan,
    lineIndex: number,
    balances: readonly LineBalance[],
    waitedMs: number,
  ): AdmissionDenied {
    const line = plan.lines[lineIndex]!;
    return {
      ok: false,
      denial: {
        kind: 'budget_busy',
        budgetId: line.scoped.budget.id,
        instance: line.scoped.instance,
        waitedMs,
        anonymous: request.identity.anonymous,
      },
      estimateNano: amountFor(plan.fixedPico, plan.outputPico, plan.cap),
      servedModel: plan.model,
      budgets: this.views(plan, balances),
      waitedMs,
    };
  }

  private views(plan: Plan, balances: readonly LineBalance[]): BudgetView[] {
    return plan.lines.map((l, i) => this.deps.cache.view(l.scoped.budget, l.spec, l.period, balances[i]));
  }

  private granted(
    request: AdmissionRequest,
    plan: Plan,
    reservation: Reservation | null,
    grantedCap: number,
    amountNano: Nano,
    balances: readonly LineBalance[],
    waitedMs: number,
    limits?: LimitView[],
  ): AdmissionGranted {
    if (reservation) {
      this.deps.settlement.track(reservation, {
        budgets: plan.lines.map((l) => l.scoped.budget),
        resetsAtMs: plan.lines.map((l) => l.period.endMs),
      });
    }
    const views = this.views(plan, balances);
    const outputless = request.outputless;
    const downgradedFrom = plan.model.name !== request.model.name ? request.model.name : undefined;
    // A metered request holds a slice and sends upstream the most its budgets could still pay for
    // it if everything else in flight settled at zero: the meter ends the answer when the money
    // runs out, and this cap bounds a provider that outruns the meter (one that generates faster
    // than the gateway reads). Lower than asked only in a budget's last stretch (then `clamped`).
    // A first slice lowered to what is left (fit-to-budget) is a budget's real end: that answer is
    // capped upstream at what it holds and not metered. Metered past its hold, a provider faster
    // than a loaded gateway's reads once served past a $0.05 budget with such answers in flight
    // (each one's upstream cap counted the same free money; the first read has no lag to size a
    // margin by).
    const metered = plan.metered && grantedCap >= plan.reserveCap;
    const upstreamCap = metered ? meteredUpstreamCap(plan, grantedCap, amountNano, balances) : grantedCap;
    return {
      ok: true,
      reservation,
      servedModel: plan.model,
      ...(downgradedFrom ? { downgradedFrom } : {}),
      outputCap: outputless ? undefined : upstreamCap,
      reservedOutputTokens: outputless ? 0 : grantedCap * plan.outputMultiplier,
      capChanged: !outputless && upstreamCap !== request.requestedCap,
      clamped: !outputless && upstreamCap < plan.cap,
      // The worst case: what the whole answer may cost (a metered reservation holds part of it).
      estimateNano: metered ? amountFor(plan.fixedPico, plan.outputPico, plan.cap) : amountNano,
      ...(views.length > 0 ? { tightest: tightestOf(views) } : {}),
      promptTokens: plan.promptTokens,
      ...(metered
        ? {
            meter: {
              heldCap: grantedCap,
              sliceCap: plan.sliceCap,
              fullCap: plan.cap,
              outputMultiplier: plan.outputMultiplier,
            },
          }
        : {}),
      waitedMs,
      ...(limits ? { limits } : {}),
    };
  }

  private rejected(
    request: AdmissionRequest,
    plan: Plan,
    lineIndex: number,
    balances: readonly LineBalance[],
  ): AdmissionDenied {
    const line = plan.lines[lineIndex]!;
    const balance = balances[lineIndex] ?? zeroBalance(line.spec);
    const remainingNano = Math.max(0, balance.limitNano - committed(balance));
    // "Exhausted" when the line cannot serve even a minimal answer of this model, whatever the prompt.
    if (remainingNano < amountFor(0, plan.outputPico, plan.minCap) || remainingNano === 0) {
      void this.deps.alerts.fireOnce(line.scoped.budget, line.spec, 'exhausted', undefined, balance);
    }
    return {
      ok: false,
      denial: {
        kind: 'budget_exceeded',
        budgetId: line.scoped.budget.id,
        instance: line.scoped.instance,
        remainingNano,
        minimumNano: amountFor(plan.fixedPico, plan.outputPico, plan.minCap),
        resetsAtMs: line.period.endMs,
        nowMs: request.nowMs,
        anonymous: request.identity.anonymous,
      },
      estimateNano: amountFor(plan.fixedPico, plan.outputPico, plan.cap),
      servedModel: plan.model,
      budgets: this.views(plan, balances),
    };
  }

  private unavailable(
    cfg: RuntimeConfig,
    request: AdmissionRequest,
    plan: Plan,
    reserving: boolean,
  ): Admission {
    const mode = this.deps.onUnavailable ?? cfg.store.onUnavailable;
    const estimateNano = amountFor(plan.fixedPico, plan.outputPico, plan.cap);
    if (mode === 'allow') {
      if (reserving) safe(this.deps.metrics.onUnrecorded, 'reserve' as const);
      return this.granted(
        request,
        { ...plan, lines: [], metered: false },
        null,
        plan.cap,
        estimateNano,
        [],
        0,
      );
    }
    // A preview answers what the request would get: the same refusal.
    return {
      ok: false,
      denial: { kind: 'store_unavailable', operation: 'reserve' },
      estimateNano,
      servedModel: plan.model,
    };
  }
}

function reserveShape(plan: Plan) {
  return {
    fixedPico: plan.fixedPico,
    outputPico: plan.outputPico,
    requestedCap: plan.reserveCap,
    minCap: plan.minCap,
  };
}
