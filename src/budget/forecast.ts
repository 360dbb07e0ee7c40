/**
 * Spend forecast for one budget line from what it has spent so far in its period: the average burn
 * rate over the elapsed part of the period, projected to the period's end. The admin analytics
 * refine it with hourly history where that exists; this one needs nothing but the balance.
 */
import type { Nano } from '../money.js';

export interface Forecast {
  /** Projected spend at the period's end, nano-USD; null for prepaid budgets (no end). */
  projectedNano: Nano | null;
  /** When the budget runs out at the current burn rate (ms since epoch); null if not before the period ends. */
  exhaustedAtMs: number | null;
}

export function linearForecast(input: {
  spentNano: Nano;
  limitNano: Nano;
  periodStartMs: number;
  periodEndMs: number | null;
  nowMs: number;
}): Forecast {
  const remaining = input.limitNano - input.spentNano;
  // A prepaid budget has no period to average over (its "start" is the epoch): no burn rate, so
  // nothing to project; an exhausted one is exhausted now.
  if (input.periodEndMs === null) {
    return { projectedNano: null, exhaustedAtMs: remaining <= 0 ? input.nowMs : null };
  }
  const elapsed = Math.max(1, input.nowMs - input.periodStartMs);
  const rate = input.spentNano / elapsed; // nano per ms
  let exhaustedAtMs: number | null = null;
  if (remaining <= 0) exhaustedAtMs = input.nowMs;
  else if (rate > 0) exhaustedAtMs = Math.round(input.nowMs + remaining / rate);
  const projectedNano = Math.round(input.spentNano + rate * Math.max(0, input.periodEndMs - input.nowMs));
  if (exhaustedAtMs !== null && exhaustedAtMs > input.periodEndMs) exhaustedAtMs = null;
  return { projectedNano, exhaustedAtMs };
}
