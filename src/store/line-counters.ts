/**
 * The budget arithmetic both stores share. The SQLite store calls these functions; the Redis Lua
 * scripts (lua/common.ts) mirror them line for line, and the contract suite holds the two together.
 * All values are integers below 2^53; divisions are corrected so a rounded double quotient can never
 * grant one token (or one nano-USD) too many.
 */
import type { Nano } from '../money.js';
import type { LineBalance, LineSpec } from './types.js';

const PICO_PER_NANO = 1000;

/** A line's stored counters. */
export interface LineCounters {
  spent: Nano;
  reserved: Nano;
  rollover: Nano;
  topup: Nano;
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
 * Unused budget carried into a period on its first touch:
 * min(cap, max(0, limit + prev rollover + prev top-ups - prev spent - prev reserved)).
 * The previous period's base limit is taken as today's (the caller passes only one).
 */
export function carriedRollover(spec: LineSpec, prev: LineCounters | undefined): Nano {
  if (spec.previousPeriod === null || spec.rolloverMaxNano <= 0) return 0;
  // A previous period nobody touched carries nothing: the budget may not have existed then, and a
  // rollover must never hand out money that was not budgeted and left unused.
  if (!prev) return 0;
  const unused = spec.limitNano + prev.rollover + prev.topup - prev.spent - prev.reserved;
  return Math.min(spec.rolloverMaxNano, Math.max(0, unused));
}

export function balanceOf(limitNano: Nano, c: LineCounters): LineBalance {
  return { limitNano: limitNano + c.rollover + c.topup, spentNano: c.spent, reservedNano: c.reserved };
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
