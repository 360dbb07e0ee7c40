/** The denial of a request a rate or concurrency limit refuses (the store's answer or the pre-check's). */
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
