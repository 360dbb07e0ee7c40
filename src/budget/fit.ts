/**
 * Fit-to-budget without reserving: what a store's reserve would answer for these balances.
 * Used by preview (POST /v1/cost/estimate); the arithmetic is the stores' own (store/logic.ts).
 */
import { amountFor, lineCap } from '../store/logic.js';
import type { LineBalance, ReserveRequest, ReserveResult } from '../store/types.js';

export function simulateReserve(
  request: Pick<ReserveRequest, 'lines' | 'fixedPico' | 'outputPico' | 'requestedCap' | 'minCap'>,
  balances: readonly LineBalance[],
): ReserveResult {
  const copy = balances.map((b) => ({ ...b }));
  for (let i = 0; i < request.lines.length; i++) {
    const spec = request.lines[i]!;
    const b = balances[i]!;
    if (spec.downgradeAtNano >= 0 && b.spentNano + b.reservedNano >= spec.downgradeAtNano) {
      return { status: 'downgrade', lineIndex: i, balances: copy, expiredSettled: 0 };
    }
  }
  let grantedCap = request.requestedCap;
  for (let i = 0; i < request.lines.length; i++) {
    const b = balances[i]!;
    const available = b.limitNano - b.spentNano - b.reservedNano;
    const cap = lineCap(
      available,
      request.fixedPico,
      request.outputPico,
      request.requestedCap,
      request.minCap,
    );
    if (cap < 0) return { status: 'rejected', lineIndex: i, balances: copy, expiredSettled: 0 };
    grantedCap = Math.min(grantedCap, cap);
  }
  const amountNano = amountFor(request.fixedPico, request.outputPico, grantedCap);
  for (const b of copy) b.reservedNano += amountNano;
  return { status: 'reserved', grantedCap, amountNano, balances: copy, expiredSettled: 0 };
}
