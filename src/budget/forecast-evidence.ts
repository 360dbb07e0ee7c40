/**
 * Forecasts wait for evidence. A projection extrapolates what the gateway has seen to the end of
 * the period; a few minutes of spend (a period that just began, or a gateway that just started)
 * extrapolates to anything, so no forecast is made before a minimum of observed history:
 *
 *   observed  = now - max(period start, when this gateway began watching)
 *   required  = min(minHistoryMs, minPeriodFraction * period length)   (prepaid: minHistoryMs)
 *
 * The smaller of the two, so the default (an hour, or 5% of the period) is an hour for every
 * calendar period (5% of a day is 72 minutes): after a restart or at a period's start, forecasts
 * and forecast alerts are blind for at most an hour, not for 5% of a month (37 hours, the first
 * day and a half, when a runaway burn matters most). The fraction caps a larger minHistoryMs on
 * short periods, so a daily budget is never blind for most of its day.
 */

import type { RuntimeConfig } from '../config/runtime.js';

/** minHistoryMs: least observed history before any forecast; minPeriodFraction: unless shorter. */
export type ForecastEvidenceRule = RuntimeConfig['forecast'];

export const DEFAULT_FORECAST_EVIDENCE: ForecastEvidenceRule = {
  minHistoryMs: 3_600_000,
  minPeriodFraction: 0.05,
};

export interface EvidenceInput {
  periodStartMs: number;
  /** null for prepaid budgets. */
  periodEndMs: number | null;
  /** When this gateway began watching spend (its start, or the start of its usage history). */
  observedSinceMs: number;
  nowMs: number;
}

export function requiredHistoryMs(
  rule: ForecastEvidenceRule,
  periodStartMs: number,
  periodEndMs: number | null,
) {
  if (periodEndMs === null) return rule.minHistoryMs;
  return Math.min(rule.minHistoryMs, rule.minPeriodFraction * (periodEndMs - periodStartMs));
}

/** Whether enough of the period has been watched to forecast from it. */
export function hasForecastEvidence(input: EvidenceInput, rule: ForecastEvidenceRule): boolean {
  const observedMs = input.nowMs - Math.max(input.periodStartMs, input.observedSinceMs);
  return observedMs >= requiredHistoryMs(rule, input.periodStartMs, input.periodEndMs);
}
