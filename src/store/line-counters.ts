/**
 * A budget line's counters and what they add up to, as both stores keep them: the SQLite store
 * calls these functions, the Redis scripts (redis/lua/common.lua) mirror them line for line, and
 * the contract suite holds the two together. The reserve decision itself is budget/reserve-decision.ts.
 */
import type { Nano } from '../money.js';
import type { LineBalance, LineSpec } from './types.js';

/** A line's stored counters. */
export interface LineCounters {
  spent: Nano;
  reserved: Nano;
  rollover: Nano;
  topup: Nano;
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
