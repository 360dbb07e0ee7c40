/** A request's rate and concurrency limits, and the denial of one they refuse (the store's or the pre-check's). */
import type { RuntimeConfig, RuntimeModel } from '../config/runtime.js';
import { limitsFor } from '../limits/scopes.js';
import type { LimitRefusal, LimitSpec, LimitUse } from '../limits/types.js';
import type { Plan } from './admission-plan.js';
import { amountFor } from './reserve-decision.js';
import type { AdmissionDenied, AdmissionRequest, BudgetView, LimitView } from './types.js';

/** A limit's use as the store answered it, paired with its spec. */
export function limitViews(
  limits: readonly LimitSpec[],
  uses: LimitUse[] | undefined,
): LimitView[] | undefined {
  if (!uses || limits.length === 0) return undefined;
  return limits.map((spec, i) => ({ spec, use: uses[i]! }));
}

export function limitedDenial(
  request: AdmissionRequest,
  plan: Plan,
  limits: LimitSpec[],
  refusal: LimitRefusal,
  uses: LimitUse[],
  budgets: BudgetView[],
  waitedMs: number,
): AdmissionDenied {
  const limit = limits[refusal.limitIndex];
  if (!limit) throw new Error(`store answered with an unknown limit index ${refusal.limitIndex}`);
  const views = limitViews(limits, uses);
  return {
    ok: false,
    denial: {
      kind: 'rate_limited',
      limit,
      limitKind: refusal.kind,
      retryAfterMs: refusal.retryAfterMs,
      tooLarge: refusal.tooLarge,
      anonymous: request.identity.anonymous,
    },
    estimateNano: amountFor(plan.fixedPico, plan.outputPico, plan.cap),
    servedModel: plan.model,
    budgets,
    ...(views ? { limits: views } : {}),
    waitedMs,
  };
}

/** The limits of `model` for this request, those an earlier attempt counted it on marked so. */
export function limitsForRequest(
  cfg: RuntimeConfig,
  request: AdmissionRequest,
  model: RuntimeModel,
): LimitSpec[] {
  const specs = limitsFor(cfg, request.identity, model, request.stream === true);
  const counted = request.countedLimits;
  if (!counted || counted.size === 0) return specs;
  return specs.map((s) => (counted.has(s.instance) ? { ...s, counted: true as const } : s));
}
