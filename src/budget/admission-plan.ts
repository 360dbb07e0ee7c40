/**
 * Planning one admission attempt: the served model (the requested one, stepped down the downgrade
 * chain while the balances last seen pass thresholds), its output cap, and the reserve asked of
 * the store on every budget line that applies.
 */
import type { RuntimeBudget, RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import type { Nano } from '../money.js';
import type { LineBalance, LineSpec } from '../store/types.js';
import { priceAt } from '../usage.js';
import type { BalanceCache } from './balance-cache.js';
import { attributes, committed } from './engine-views.js';
import { lineSpecOf } from './lines.js';
import { cachedPeriodOf, type PeriodInfo } from './periods.js';
import { downgradeAtRatio, downgradeChain, thresholdNano } from './policy.js';
import { amountFor, floorDiv } from './reserve-decision.js';
import { linesFor, type ScopedLine } from './scopes.js';
import type { AdmissionRequest } from './types.js';

/** Output cap used when neither the client nor the model config gives one (the gateway sends it upstream). */
export const FALLBACK_OUTPUT_CAP = 4096;
/** Bounded re-planning after the store asks for a downgrade, and bounded chain walking. */
export const MAX_ROUNDS = 8;

export interface PlannedLine {
  scoped: ScopedLine;
  period: PeriodInfo;
  spec: LineSpec;
  /** The threshold ratio behind spec.downgradeAtNano, when set. */
  downgradeAt: number | undefined;
}

export interface Plan {
  model: RuntimeModel;
  lines: PlannedLine[];
  promptTokens: number;
  /**
   * The cap asked of the store, per output sequence: the client's (or the model's maximum), never
   * above the model's maximum, and low enough that the whole reservation stays a safe integer.
   */
  cap: number;
  /**
   * The cap the first reserve asks for: `cap`, or for a metered request its first slice
   * (budgeting.stream_slice_tokens, at most `cap`); the rest is reserved as output is relayed.
   */
  reserveCap: number;
  /** What each extension of a metered request asks for (the first slice, before any shortening). */
  sliceCap: number;
  /** True when the request is metered on the served model (see reserveCap). */
  metered: boolean;
  minCap: number;
  fixedPico: number;
  /** Price of one cap token across every output sequence: the model's output price x multiplier. */
  outputPico: number;
  /** Output sequences the cap applies to (0 for outputless APIs). */
  outputMultiplier: number;
}

/**
 * The number of output sequences a request's reserve is priced for: the request's multiplier
 * (at least 1), 0 for outputless APIs.
 */
export function outputMultiplierOf(request: AdmissionRequest): number {
  if (request.outputless) return 0;
  const m = request.outputMultiplier;
  return m !== undefined && Number.isSafeInteger(m) && m > 1 ? m : 1;
}

/** What stays fixed across the rounds of one admission. */
export interface PlanContext {
  cfg: RuntimeConfig;
  request: AdmissionRequest;
  budgets: readonly RuntimeBudget[];
  allowed: ReadonlySet<string> | undefined;
  cache: BalanceCache;
  /** Per instance: a used ratio the store's answer proved, which the cache may not show yet. */
  forced: ReadonlyMap<string, number>;
  /** Prompt tokens per model name, counted once per admission. */
  promptTokens: Map<string, number>;
}

/** The served model: the requested one, stepped down while cached balances pass downgrade thresholds. */
export function chooseModel(ctx: PlanContext): RuntimeModel {
  const { cfg, request } = ctx;
  let current = request.model;
  const visited = new Set([current.name]);
  for (let step = 0; step < MAX_ROUNDS; step++) {
    const ratios = linesFor(ctx.budgets, attributes(request.identity, current)).map((line) => {
      const period = cachedPeriodOf(line.budget.period, line.budget.timezone, request.nowMs);
      const balance = ctx.cache.get(line.instance, period.id);
      const ratio = balance && balance.limitNano > 0 ? committed(balance) / balance.limitNano : 0;
      return { budget: line.budget, usedRatio: Math.max(ratio, ctx.forced.get(line.instance) ?? 0) };
    });
    const served = downgradeChain(current.name, ratios, ctx.allowed, cfg.models).at(-1);
    const next = served === undefined ? undefined : cfg.models.get(served);
    if (!next || visited.has(next.name)) break;
    visited.add(next.name);
    current = next;
  }
  return current;
}

export async function planFor(ctx: PlanContext, model: RuntimeModel): Promise<Plan> {
  const { cfg, request } = ctx;
  let promptTokens = ctx.promptTokens.get(model.name);
  if (promptTokens === undefined) {
    promptTokens = await request.promptTokensFor(model);
    ctx.promptTokens.set(model.name, promptTokens);
  }
  const multiplier = outputMultiplierOf(request);
  // A prompt past the model's long-context threshold is billed at the tier's prices, output included.
  const price = priceAt(model.price, promptTokens);
  const fixedPico = promptTokens * price.input;
  const outputPico = price.output * multiplier;
  let cap = 0;
  if (!request.outputless) {
    const max = model.maxOutputTokens;
    cap = request.requestedCap ?? max ?? FALLBACK_OUTPUT_CAP;
    if (max !== undefined) cap = Math.min(cap, max);
    // n: 128 choices of 16k tokens at a gpt-4o price is past 2^53 pico-USD: the stores' integer
    // arithmetic (doubles in Lua too) would round. Such a cap is lowered (and reported as clamped)
    // until the worst case is exact; it is a reservation of thousands of dollars either way.
    if (outputPico > 0) cap = Math.min(cap, Math.floor((Number.MAX_SAFE_INTEGER - fixedPico) / outputPico));
    cap = Math.max(0, Math.floor(cap));
  }
  const lines = linesFor(ctx.budgets, attributes(request.identity, model)).map((scoped) => {
    const budget = scoped.budget;
    const period = cachedPeriodOf(budget.period, budget.timezone, request.nowMs);
    const downgradeAt = downgradeAtRatio(budget, model.name, ctx.allowed, cfg.models);
    // The store compares committed against this; the ratio is of the effective limit, known
    // from the last balance seen in this period, else the base limit (so a stale view can only
    // downgrade early, and the store's answer then refreshes the cache and the plan).
    const limitForRatio = ctx.cache.get(scoped.instance, period.id)?.limitNano ?? budget.limitNano;
    const spec = lineSpecOf(
      budget,
      scoped.instance,
      period,
      downgradeAt === undefined ? -1 : thresholdNano(downgradeAt, limitForRatio),
    );
    return { scoped, period, spec, downgradeAt };
  });
  // A model that bills reasoning it does not stream cannot be metered: what it generates is not seen.
  const metered =
    request.metered === true && cap > 0 && cfg.budgeting.sliceTokens > 0 && model.hiddenReasoning !== true;
  // The slice is of the whole answer: n choices share it (a slice per choice would let one n: 8
  // request hold eight slices of a small budget).
  const reserveCap = metered ? Math.min(cap, Math.ceil(cfg.budgeting.sliceTokens / multiplier)) : cap;
  const minOutput = metered
    ? Math.ceil(cfg.budgeting.minOutputTokens / multiplier)
    : cfg.budgeting.minOutputTokens;
  return {
    model,
    lines,
    promptTokens,
    cap,
    reserveCap,
    sliceCap: reserveCap,
    metered,
    minCap: Math.min(reserveCap, minOutput),
    fixedPico,
    outputPico,
    outputMultiplier: multiplier,
  };
}

/** The cap a metered request sends upstream: see BudgetAdmission.granted(). */
export function meteredUpstreamCap(
  plan: Plan,
  grantedCap: number,
  amountNano: Nano,
  balances: readonly LineBalance[],
): number {
  let cap = plan.cap;
  for (const b of balances) {
    const room = b.limitNano - b.spentNano - Math.max(0, b.reservedNano - amountNano);
    if (room >= amountFor(plan.fixedPico, plan.outputPico, plan.cap)) continue;
    // room < the whole cap's amount here, so room * 1000 stays far below 2^53.
    const spare = room * 1000 - plan.fixedPico;
    const affordable = spare > 0 && plan.outputPico > 0 ? floorDiv(spare, plan.outputPico) : 0;
    cap = Math.min(cap, Math.max(grantedCap, affordable));
  }
  return cap;
}
