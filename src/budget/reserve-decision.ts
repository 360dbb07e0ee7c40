/**
 * The reserve decision, the one copy: given each line's balance, grant the requested output cap,
 * a lower one that every line affords (fit-to-budget, never below minCap), a downgrade, or a
 * rejection. The SQLite store decides with it inside its transaction, previews (fit.ts) decide with
 * it on balances they read; the Redis script store/redis/lua/reserve.lua mirrors it line for line,
 * and the store contract suite runs one table of cases against all three.
 *
 * All values are integers below 2^53; divisions are corrected so a rounded double quotient can never
 * grant one token (or one nano-USD) too many.
 */
import type { Nano } from '../money.js';
import type { LineBalance, ReserveRequest } from '../store/types.js';

const PICO_PER_NANO = 1000;

/** What a reservation is priced at: the request fields the decision reads. */
export type ReservePrice = Pick<ReserveRequest, 'fixedPico' | 'outputPico' | 'requestedCap' | 'minCap'>;

export type ReserveDecision =
  | { status: 'reserved'; grantedCap: number; amountNano: Nano }
  /** Index of the first line that rejected (or asked for a downgrade). */
  | { status: 'rejected' | 'downgrade'; lineIndex: number };

/**
 * Pass 1 of a reserve: nothing is written until every line agrees. A downgrade anywhere wins over
 * a rejection (the cheaper model may still fit); the tightest line decides the granted cap.
 * `lines[i].downgradeAtNano` is the committed amount at which line i asks for a downgrade (-1: never).
 */
export function decideReserve(
  lines: ReadonlyArray<{ downgradeAtNano: Nano }>,
  balances: readonly LineBalance[],
  price: ReservePrice,
): ReserveDecision {
  for (let i = 0; i < lines.length; i++) {
    const threshold = lines[i]!.downgradeAtNano;
    const b = balances[i]!;
    if (threshold >= 0 && b.spentNano + b.reservedNano >= threshold)
      return { status: 'downgrade', lineIndex: i };
  }
  let grantedCap = price.requestedCap;
  for (let i = 0; i < lines.length; i++) {
    const b = balances[i]!;
    const available = b.limitNano - b.spentNano - b.reservedNano;
    const cap = lineCap(available, price.fixedPico, price.outputPico, price.requestedCap, price.minCap);
    if (cap < 0) return { status: 'rejected', lineIndex: i };
    grantedCap = Math.min(grantedCap, cap);
  }
  return {
    status: 'reserved',
    grantedCap,
    amountNano: amountFor(price.fixedPico, price.outputPico, grantedCap),
  };
}

/** floor(a / b) for a >= 0, b > 0, exact where the double quotient alone may round up. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q > 0 && q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}

/** ceil(a / b) for a >= 0, b > 0. */
export function ceilDiv(a: number, b: number): number {
  const q = floorDiv(a, b);
  return q * b < a ? q + 1 : q;
}

/** Nano-USD a reservation of `cap` output tokens costs: ceil((fixed + cap * output) / 1000). */
export function amountFor(fixedPico: number, outputPico: number, cap: number): Nano {
  return ceilDiv(fixedPico + cap * outputPico, PICO_PER_NANO);
}

/**
 * Largest output cap (<= requestedCap) one line can afford, or -1 when it cannot afford `minCap`.
 * The full-cap check is done in nano first so a huge `available` never multiplies past 2^53.
 */
export function lineCap(
  available: Nano,
  fixedPico: number,
  outputPico: number,
  requestedCap: number,
  minCap: number,
): number {
  if (available < amountFor(fixedPico, outputPico, minCap)) return -1;
  if (available >= amountFor(fixedPico, outputPico, requestedCap)) return requestedCap;
  // Only reached when available < the full cap's amount, so available * 1000 stays small.
  // outputPico > 0 here: with outputPico = 0 both amounts are equal and one check above returned.
  const room = available * PICO_PER_NANO - fixedPico;
  const cap = room > 0 ? floorDiv(room, outputPico) : 0;
  return cap >= minCap ? Math.min(cap, requestedCap) : -1;
}
