/**
 * The pre-check of a large prompt (issue 13): before its tokens are counted, the request is priced
 * at a lower bound of them (tokens/lower-bound.ts: its UTF-8 bytes / the longest token) and at its
 * minimum output, and refused when even that cannot fit a budget or a limit. A refused caller's
 * 4 MB prompts then never reach the token workers, where they held everyone else's counts.
 *
 * It never refuses what the exact path would admit: it answers only what the store's own decision
 * (reserve-decision.ts lineVerdict, limits/decision.ts decideLimits) answers for any prompt at
 * least this large, on the same balances and window use:
 * - a budget line is exhausted (limit - spent below the minimum: REJECTED, which no wait and no
 *   smaller cap can help; busy lines are left to the exact path, which may wait);
 * - a limit has no slot, no request left, or not the tokens of the lower bound plus the minimum.
 * It stands aside (undefined) whenever the exact path could differ in ways a bound cannot see: a
 * downgrade could serve another model (other prices, other limits), the exact cap could be lowered
 * by the safe-integer clamp (planFor), the store cannot be read. Balances come from the cache when
 * it already shows room (no store read: a big prompt that fits keeps its fast path) and from one
 * store read otherwise (the cache may be stale in the refusing direction: a top-up, a raise).
 */
import type { RuntimeModel } from '../config/runtime.js';
import type { LimitRefusal, LimitSpec, LimitUse } from '../limits/types.js';
import { type BudgetStore, type LineBalance, StoreUnavailableError } from '../store/types.js';
import { type Plan, type PlanContext, planFor } from './admission-plan.js';
import { amountFor } from './reserve-decision.js';

export type Precheck =
  | { kind: 'rejected'; plan: Plan; lineIndex: number; balances: LineBalance[] }
  | { kind: 'limited'; plan: Plan; limits: LimitSpec[]; uses: LimitUse[]; refusal: LimitRefusal };

/** Nothing tells when a slot frees (decision.ts CONCURRENCY_RETRY_MS). */
const SLOT_RETRY_MS = 1_000;
const WINDOW_MS = 60_000;

/**
 * The pre-check's refusal, or undefined: admit as usual (count, then reserve). `ctx` is the
 * admission's planning context; its prompt-token map is not touched.
 */
export async function precheck(
  ctx: PlanContext,
  store: Pick<BudgetStore, 'balances' | 'limitUses'>,
  limitsOf: (model: RuntimeModel) => LimitSpec[],
): Promise<Precheck | undefined> {
  const { request } = ctx;
  const model = request.model;
  const bounds = request.promptBoundsFor?.(model);
  if (!bounds) return undefined;
  const plan = await planFor({ ...ctx, promptTokens: new Map([[model.name, bounds.lower]]) }, model);
  if (plan.lines.some((l) => l.downgradeAt !== undefined)) return undefined;
  // Priced at the lower of the base and long-context prices (the tier is chosen by the exact count).
  const base = model.price;
  const tier = base.longContext ?? base;
  const m = plan.outputMultiplier;
  const maxPico =
    bounds.upper * Math.max(base.input, tier.input) + plan.minCap * Math.max(base.output, tier.output) * m;
  // Beyond this the exact plan's cap may be clamped below this minimum (planFor): stand aside.
  if (!Number.isSafeInteger(maxPico)) return undefined;
  const low: Plan = {
    ...plan,
    fixedPico: bounds.lower * Math.min(base.input, tier.input),
    outputPico: Math.min(base.output, tier.output) * m,
  };
  const needNano = amountFor(low.fixedPico, low.outputPico, low.minCap);
  const limits = limitsOf(model);
  const specs = plan.lines.map((l) => l.spec);
  const cached = specs.map((spec) => ctx.cache.of(spec));
  const cacheShowsRoom = cached.every((b) => b !== undefined && b.limitNano - b.spentNano >= needNano);
  let balances: LineBalance[] | undefined;
  let uses: LimitUse[] = [];
  try {
    [balances, uses] = await Promise.all([
      cacheShowsRoom || specs.length === 0 ? undefined : store.balances(specs),
      limits.length > 0 ? store.limitUses(limits, request.nowMs) : [],
    ]);
  } catch (error) {
    if (error instanceof StoreUnavailableError) return undefined;
    throw error;
  }
  if (balances) ctx.cache.rememberAll(specs, balances);
  // The store's order: an exhausted budget line first, then the limits.
  const lineIndex = balances ? balances.findIndex((b) => b.limitNano - b.spentNano < needNano) : -1;
  if (balances && lineIndex >= 0) return { kind: 'rejected', plan: low, lineIndex, balances };
  const tokens = bounds.lower + low.minCap * m;
  for (let i = 0; i < limits.length; i++) {
    const refusal = limitRefusal(limits[i]!, uses[i]!, tokens);
    if (refusal) return { kind: 'limited', plan: low, limits, uses, refusal: { limitIndex: i, ...refusal } };
  }
  return undefined;
}

/** decideLimits() for one limit on its use, without the buckets: retry-after is the earliest hint. */
function limitRefusal(
  spec: LimitSpec,
  use: LimitUse,
  tokens: number,
): Omit<LimitRefusal, 'limitIndex'> | undefined {
  if (spec.concurrentRequests > 0 && use.inFlight >= spec.concurrentRequests)
    return { kind: 'concurrent', retryAfterMs: SLOT_RETRY_MS, tooLarge: false };
  if (!spec.counted && spec.requestsPerMinute > 0 && use.requests + 1 > spec.requestsPerMinute)
    return { kind: 'requests', retryAfterMs: Math.max(1, use.resetRequestsMs), tooLarge: false };
  if (spec.tokensPerMinute > 0) {
    if (tokens > spec.tokensPerMinute) return { kind: 'tokens', retryAfterMs: WINDOW_MS, tooLarge: true };
    if (tokens > spec.tokensPerMinute - use.tokens)
      return { kind: 'tokens', retryAfterMs: Math.max(1, use.resetTokensMs), tooLarge: false };
  }
  return undefined;
}
