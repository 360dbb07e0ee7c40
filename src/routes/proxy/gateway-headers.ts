/** The x-gateway-* response headers of DESIGN §2, set on the plain header object of a proxied answer. */
import type { AdmissionGranted, BudgetView, Reservation } from '../../budget/types.js';
import { rateLimitHeaders } from '../../limits/headers.js';
import { formatUsd, type Nano } from '../../money.js';
import type { ResponseHeaderRecord } from '../../providers/headers.js';

export function admissionHeaders(
  headers: ResponseHeaderRecord,
  requestId: string,
  admission: AdmissionGranted,
): void {
  headers['x-gateway-request-id'] = requestId;
  headers['x-gateway-model'] = admission.servedModel.name;
  Object.assign(headers, rateLimitHeaders(admission.limits));
  if (admission.downgradedFrom) headers['x-gateway-downgraded-from'] = admission.downgradedFrom;
  if (admission.clamped && admission.outputCap !== undefined) {
    headers['x-gateway-max-tokens-clamped'] = String(admission.outputCap);
  }
}

export function budgetHeaders(headers: ResponseHeaderRecord, tightest: BudgetView | undefined): void {
  if (!tightest) return;
  headers['x-gateway-budget-id'] = tightest.budget.id;
  headers['x-gateway-budget-remaining-usd'] = formatUsd(Math.max(0, tightest.remainingNano));
}

/** The tightest budget as it stands once the reservation was given back (the provider refused). */
export function afterRelease(
  tightest: BudgetView | undefined,
  reservation: Reservation | null,
): BudgetView | undefined {
  if (!tightest || !reservation) return tightest;
  return {
    ...tightest,
    reservedNano: Math.max(0, tightest.reservedNano - reservation.amountNano),
    remainingNano: tightest.remainingNano + reservation.amountNano,
  };
}

export function costHeader(headers: ResponseHeaderRecord, costNano: Nano): void {
  headers['x-gateway-cost-usd'] = formatUsd(costNano);
}

export function estimateHeader(headers: ResponseHeaderRecord, estimateNano: Nano): void {
  headers['x-gateway-estimated-cost-usd'] = formatUsd(estimateNano);
}
