/**
 * Spend forecast for one budget line from its hourly history: an exponentially weighted hourly
 * burn rate over the complete hours of the elapsed period (recent hours count more, so a change of
 * pace shows within hours, while one odd hour does not swing the projection), projected from what
 * the line has spent to the period's end. With too little history (a period just started, or no
 * rollups for it) it falls back to the linear rate: spent / elapsed time.
 *
 *   weight of the hour h hours ago  w_h = 2^(-h / halfLifeHours)       (h = 0 for the last complete hour)
 *   rate                            r   = sum(w_h * spend_h) / sum(w_h)   (nano-USD per hour)
 *   projected                           = spent + r * hoursLeft
 *   exhausted at                        = now + (limit - spent) / r    (null when past the period's end)
 *
 * A steady burn of c per hour gives r = c exactly, whatever the weights.
 *
 * Neither is made before a minimum of observed history (budget/forecast-evidence.ts): then the
 * projection and the exhaustion time are null (an exhausted line is still exhausted now).
 */
import { type Forecast, linearForecast } from '../budget/forecast.js';
import {
  type EvidenceInput,
  type ForecastEvidenceRule,
  hasForecastEvidence,
} from '../budget/forecast-evidence.js';
import type { Nano } from '../money.js';
import { HOUR_MS } from '../store/history.js';

export interface ForecastInput {
  spentNano: Nano;
  limitNano: Nano;
  periodStartMs: number;
  /** null for prepaid budgets (no end: only the exhaustion time is forecast). */
  periodEndMs: number | null;
  nowMs: number;
  /**
   * Spend of each complete hour of the window, oldest first; the last element is the hour that
   * ended most recently. Empty or all zeros when there is no history.
   */
  hourly: readonly number[];
  /** Default 6. */
  halfLifeHours?: number;
  /** Fewer complete hours than this: linear. Default 3. */
  minHours?: number;
  /** When the gateway began watching, and how long it must have: no projection before. */
  evidence?: { observedSinceMs: number; rule: ForecastEvidenceRule };
}

export interface SpendForecast {
  method: 'ewma' | 'linear';
  /** Burn rate, nano-USD per hour. */
  rateNanoPerHour: number;
  /** Projected spend at the period's end; null for prepaid budgets. */
  projectedNano: Nano | null;
  /** When the line runs out at this rate (ms since epoch); null if not before the period ends. */
  exhaustedAtMs: number | null;
}

export const DEFAULT_HALF_LIFE_HOURS = 6;
export const DEFAULT_MIN_HOURS = 3;

/** Exponentially weighted mean of the series, the last element weighted most. */
export function ewmaRate(hourly: readonly number[], halfLifeHours = DEFAULT_HALF_LIFE_HOURS): number {
  let weighted = 0;
  let weights = 0;
  const n = hourly.length;
  for (let i = 0; i < n; i++) {
    const w = 2 ** (-(n - 1 - i) / halfLifeHours);
    weighted += w * (hourly[i] ?? 0);
    weights += w;
  }
  return weights > 0 ? weighted / weights : 0;
}

export function forecastSpend(input: ForecastInput): SpendForecast {
  const forecast = forecastFromHistory(input);
  const evidence = input.evidence;
  if (
    !evidence ||
    hasForecastEvidence({ ...input, observedSinceMs: evidence.observedSinceMs }, evidence.rule)
  )
    return forecast;
  return { ...forecast, ...unforecast(input) };
}

/** What is known without a forecast: an exhausted line is exhausted now; nothing is projected. */
function unforecast(input: Pick<ForecastInput, 'spentNano' | 'limitNano' | 'nowMs'>): Forecast {
  return { projectedNano: null, exhaustedAtMs: input.limitNano - input.spentNano <= 0 ? input.nowMs : null };
}

function forecastFromHistory(input: ForecastInput): SpendForecast {
  const minHours = input.minHours ?? DEFAULT_MIN_HOURS;
  const historyTotal = input.hourly.reduce((sum, v) => sum + v, 0);
  // Spend the history does not know about (recorded before history existed) makes it unreliable.
  const historyUsable = input.hourly.length >= minHours && !(historyTotal === 0 && input.spentNano > 0);
  if (!historyUsable) {
    if (input.periodEndMs === null) {
      // A prepaid budget has no period start to average over: no honest linear rate.
      const remaining = input.limitNano - input.spentNano;
      return {
        method: 'linear',
        rateNanoPerHour: 0,
        projectedNano: null,
        exhaustedAtMs: remaining <= 0 ? input.nowMs : null,
      };
    }
    const linear = linearForecast(input);
    const elapsed = Math.max(1, input.nowMs - input.periodStartMs);
    return { method: 'linear', rateNanoPerHour: (input.spentNano / elapsed) * HOUR_MS, ...linear };
  }
  const rate = ewmaRate(input.hourly, input.halfLifeHours);
  return { method: 'ewma', rateNanoPerHour: rate, ...project(input, rate) };
}

/** A line's burn rate from history, kept in memory by the analytics for the request path to read. */
export interface BurnRate {
  rateNanoPerHour: number;
  /** When it was computed (ms since epoch). */
  computedAtMs: number;
}

/** Burn rates by budget line; undefined where history gives none (callers fall back to linear). */
export interface BurnRateSource {
  rateOf(instance: string, periodId: string): BurnRate | undefined;
  /** Whether this gateway has watched the period long enough to forecast it (forecast-evidence.ts). */
  hasEvidence(period: Omit<EvidenceInput, 'observedSinceMs'>): boolean;
}

/**
 * A balance's forecast as /v1/budget shows it: at the burn rate the analytics computed from the
 * hourly history, linear over the elapsed period where there is none, and none at all before
 * the gateway has watched the period long enough. Without a source (no analytics), linear.
 */
export function forecastBalance(
  input: Pick<ForecastInput, 'spentNano' | 'limitNano' | 'periodStartMs' | 'periodEndMs' | 'nowMs'>,
  line: { instance: string; periodId: string },
  source?: BurnRateSource,
): Forecast {
  if (source && !source.hasEvidence(input)) return unforecast(input);
  const rate = source?.rateOf(line.instance, line.periodId);
  return rate ? project(input, rate.rateNanoPerHour) : linearForecast(input);
}

/** Projection and exhaustion time at a known rate, from the balance as it stands now. */
export function project(
  input: Pick<ForecastInput, 'spentNano' | 'limitNano' | 'periodEndMs' | 'nowMs'>,
  rateNanoPerHour: number,
): Pick<SpendForecast, 'projectedNano' | 'exhaustedAtMs'> {
  const remaining = input.limitNano - input.spentNano;
  let exhaustedAtMs: number | null = null;
  if (remaining <= 0) exhaustedAtMs = input.nowMs;
  else if (rateNanoPerHour > 0)
    exhaustedAtMs = Math.round(input.nowMs + (remaining / rateNanoPerHour) * HOUR_MS);
  if (input.periodEndMs === null) return { projectedNano: null, exhaustedAtMs };
  const hoursLeft = Math.max(0, input.periodEndMs - input.nowMs) / HOUR_MS;
  const projectedNano = Math.round(input.spentNano + rateNanoPerHour * hoursLeft);
  if (exhaustedAtMs !== null && exhaustedAtMs > input.periodEndMs) exhaustedAtMs = null;
  return { projectedNano, exhaustedAtMs };
}
