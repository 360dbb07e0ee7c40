/**
 * Fit-to-budget without reserving: what a store's reserve would answer for these balances (waiters
 * queued in the store are not seen, so a preview may say reserved where a reserve would say busy).
 * Used by preview (POST /v1/cost/estimate); the decision is the stores' own (reserve-decision.ts).
 */
import type { LineBalance, ReserveRequest, ReserveResult } from '../store/types.js';
import { decideReserve } from './reserve-decision.js';

export function simulateReserve(
  request: Pick<ReserveRequest, 'lines' | 'fixedPico' | 'outputPico' | 'requestedCap' | 'minCap'>,
  balances: readonly LineBalance[],
): ReserveResult {
  const copy = balances.map((b) => ({ ...b }));
  const decision = decideReserve(request.lines, balances, request);
  if (decision.status !== 'reserved') return { ...decision, balances: copy, expiredSettled: 0 };
  for (const b of copy) b.reservedNano += decision.amountNano;
  return { ...decision, balances: copy, expiredSettled: 0 };
}
