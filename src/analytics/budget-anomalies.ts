/**
 * Anomaly checks per budget (config and API budgets; "*" budgets are covered through their keys)
 * and per key, on the last 60 minutes against the week of hours before them.
 *
 * Rollups are hourly, so "the last 60 minutes" is the current hour so far plus the share of the
 * previous hour that falls inside the window (spend assumed even within that hour). The baseline is
 * the 168 complete hours before the previous hour, clipped to when history began (hours before it
 * are unknown, not zero).
 */
import type { RuntimeConfig } from '../config/runtime.js';
import { HOUR_MS, hourOf } from '../store/history.js';
import { type AnomalyVerdict, detectAnomaly } from './anomaly.js';
import { isTemplate } from './budget-forecasts.js';
import { type SpendHistory, trackedBudgets } from './spend-history.js';

export const BASELINE_HOURS = 7 * 24;

export interface AnomalySettings {
  minVolumeNano: number;
  threshold: number;
}

export interface AnomalyFinding extends AnomalyVerdict {
  subject: 'budget' | 'key';
  /** Budget id or key id. */
  id: string;
  /** Spend in the 60 minutes before windowEndMs, nano-USD. */
  lastHourNano: number;
  windowStartMs: number;
  windowEndMs: number;
  baselineHours: number;
}

export interface AnomalyWindow {
  currentHourMs: number;
  /** Share of the previous hour inside the 60-minute window. */
  previousShare: number;
  baselineFromMs: number;
  baselineToMs: number;
}

export function anomalyWindow(nowMs: number, firstHourMs: number | null): AnomalyWindow {
  const currentHourMs = hourOf(nowMs);
  const previousShare = 1 - (nowMs - currentHourMs) / HOUR_MS;
  const baselineToMs = currentHourMs - HOUR_MS;
  let baselineFromMs = baselineToMs - BASELINE_HOURS * HOUR_MS;
  if (firstHourMs === null) baselineFromMs = baselineToMs;
  else baselineFromMs = Math.min(baselineToMs, Math.max(baselineFromMs, firstHourMs));
  return { currentHourMs, previousShare, baselineFromMs, baselineToMs };
}

export async function findAnomalies(
  cfg: RuntimeConfig,
  history: SpendHistory,
  firstHourMs: number | null,
  nowMs: number,
  settings: AnomalySettings,
): Promise<AnomalyFinding[]> {
  const w = anomalyWindow(nowMs, firstHourMs);
  const spend = await history.load(
    cfg,
    w.baselineToMs - BASELINE_HOURS * HOUR_MS,
    w.currentHourMs + HOUR_MS,
    nowMs,
  );
  const check = (subject: 'budget' | 'key', id: string, series: (from: number, to: number) => number[]) => {
    const [previous = 0, current = 0] = series(w.baselineToMs, w.currentHourMs + HOUR_MS);
    const lastHourNano = Math.round(current + previous * w.previousShare);
    const baseline = series(w.baselineFromMs, w.baselineToMs);
    const verdict = detectAnomaly({ lastHourNano, baseline, ...settings });
    return {
      subject,
      id,
      lastHourNano,
      windowStartMs: nowMs - HOUR_MS,
      windowEndMs: nowMs,
      baselineHours: baseline.length,
      ...verdict,
    } satisfies AnomalyFinding;
  };
  const findings: AnomalyFinding[] = [];
  for (const budget of trackedBudgets(cfg)) {
    if (isTemplate(budget)) continue;
    findings.push(check('budget', budget.id, (from, to) => spend.lineSeries(budget.id, from, to)));
  }
  for (const keyId of spend.keysIn(w.baselineToMs - BASELINE_HOURS * HOUR_MS, w.currentHourMs + HOUR_MS)) {
    findings.push(check('key', keyId, (from, to) => spend.keySeries(keyId, from, to)));
  }
  return findings;
}
