/** The x-gateway-* response headers of DESIGN §2. */
import type { AdmissionGranted, BudgetView } from '../budget/types.js';
import { formatUsd, type Nano } from '../money.js';

export function admissionHeaders(headers: Headers, requestId: string, admission: AdmissionGranted): void {
  headers.set('x-gateway-request-id', requestId);
  headers.set('x-gateway-model', admission.servedModel.name);
  if (admission.downgradedFrom) headers.set('x-gateway-downgraded-from', admission.downgradedFrom);
  if (admission.clamped && admission.outputCap !== undefined) {
    headers.set('x-gateway-max-tokens-clamped', String(admission.outputCap));
  }
}

export function budgetHeaders(headers: Headers, tightest: BudgetView | undefined): void {
  if (!tightest) return;
  headers.set('x-gateway-budget-id', tightest.budget.id);
  headers.set('x-gateway-budget-remaining-usd', formatUsd(Math.max(0, tightest.remainingNano)));
}

export function costHeader(headers: Headers, costNano: Nano): void {
  headers.set('x-gateway-cost-usd', formatUsd(costNano));
}

export function estimateHeader(headers: Headers, estimateNano: Nano): void {
  headers.set('x-gateway-estimated-cost-usd', formatUsd(estimateNano));
}
