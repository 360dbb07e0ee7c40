/**
 * Forecast alerts: after settles, whether a budget's burn rate says it runs out before its period
 * ends (budget/forecast.ts, linearForecast). Kept off the hot path: observe() is a few map lookups
 * and some arithmetic, each line is looked at no more than once per `intervalMs`, and the one store
 * call (claimOnce, so a single instance raises the alert per period) runs in the background, at
 * most once per line and period in this process.
 */
import type { SettledLine } from '../budget/engine.js';
import { linearForecast } from '../budget/forecast.js';
import {
  DEFAULT_FORECAST_EVIDENCE,
  type ForecastEvidenceRule,
  hasForecastEvidence,
} from '../budget/forecast-evidence.js';
import { cachedPeriodOf, ttlSecondsFor } from '../budget/periods.js';
import type { RuntimeBudget } from '../config/runtime.js';
import type { BudgetStore } from '../store/types.js';
import type { AlertInput } from './event.js';

export interface ForecastWatchOptions {
  store: Pick<BudgetStore, 'claimOnce'>;
  emit: (alert: AlertInput) => void;
  /** Least time between two looks at one line (by the gateway's clock). Default 5000. */
  intervalMs?: number;
  /**
   * Guards against the noise of a young period, where one request extrapolates to anything: no
   * forecast before this share of the limit is spent, or this share of the period has passed.
   */
  minSpentRatio?: number;
  minElapsedRatio?: number;
  /** When this gateway began watching (its start, by its clock); default: the first observe(). */
  observedSinceMs?: number;
  /** No forecast before this much observed history (config `forecast`). */
  evidence?: () => ForecastEvidenceRule;
  onError?: () => void;
}

function isTemplate(budget: RuntimeBudget): boolean {
  return budget.scope !== 'global' && Object.values(budget.scope).includes('*');
}

/** Lines tracked at most; past it the tracking starts over (a line may then be looked at early). */
const TRACK_LIMIT = 50_000;

export class ForecastWatch {
  /** When each `${instance}\n${period}` was last looked at. */
  private readonly lastLook = new Map<string, number>();
  /** Lines whose forecast alert this process claimed (or tried to) this period. */
  private readonly decided = new Set<string>();
  private readonly intervalMs: number;
  private observedSinceMs: number | undefined;
  /** Claims in flight, for idle(). */
  private readonly claims = new Set<Promise<void>>();

  constructor(private readonly options: ForecastWatchOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.observedSinceMs = options.observedSinceMs;
  }

  observe(lines: readonly SettledLine[], nowMs: number): void {
    this.observedSinceMs ??= nowMs;
    const evidence = this.options.evidence?.() ?? DEFAULT_FORECAST_EVIDENCE;
    for (const { budget, line, balance } of lines) {
      if (budget.period === 'none') continue; // a prepaid budget has no period end to run out before
      // One forecast per user (or visitor) would be noise: "*" budgets are forecast in aggregate by
      // the admin analytics, not alerted per instance.
      if (isTemplate(budget)) continue;
      const key = `${line.instance}\n${line.period}`;
      if (this.decided.has(key)) continue;
      const last = this.lastLook.get(key);
      if (last !== undefined && nowMs - last < this.intervalMs) continue;
      this.track(this.lastLook, key, nowMs);
      const period = cachedPeriodOf(budget.period, budget.timezone, nowMs);
      if (period.id !== line.period || period.endMs === null) continue;
      const { spentNano, limitNano } = balance;
      if (limitNano <= 0 || spentNano >= limitNano) continue; // exhausted: that alert says it
      if (spentNano < (this.options.minSpentRatio ?? 0.05) * limitNano) continue;
      const length = period.endMs - period.startMs;
      if (nowMs - period.startMs < (this.options.minElapsedRatio ?? 0.02) * length) continue;
      const observed = { periodStartMs: period.startMs, periodEndMs: period.endMs, nowMs };
      if (!hasForecastEvidence({ ...observed, observedSinceMs: this.observedSinceMs }, evidence)) continue;
      const forecast = linearForecast({
        spentNano,
        limitNano,
        periodStartMs: period.startMs,
        periodEndMs: period.endMs,
        nowMs,
      });
      if (forecast.exhaustedAtMs === null) continue;
      this.decided.add(key);
      if (this.decided.size > TRACK_LIMIT) this.decided.clear();
      const alert: AlertInput = {
        type: 'forecast',
        budgetId: budget.id,
        instance: line.instance,
        period: line.period,
        spentNano,
        limitNano,
        ...(forecast.projectedNano === null ? {} : { projectedNano: forecast.projectedNano }),
        exhaustedAtMs: forecast.exhaustedAtMs,
        timeMs: nowMs,
      };
      const claim = this.claim(key, line.instance, line.period, ttlSecondsFor(budget.period), alert);
      this.claims.add(claim);
      void claim.finally(() => this.claims.delete(claim));
    }
  }

  /** Resolves once every claim started so far has been answered (and its alert emitted). */
  async idle(): Promise<void> {
    while (this.claims.size > 0) await Promise.all(this.claims);
  }

  private async claim(
    key: string,
    instance: string,
    period: string,
    ttlSeconds: number,
    alert: AlertInput,
  ): Promise<void> {
    try {
      if (await this.options.store.claimOnce(instance, period, 'forecast', ttlSeconds, alert.timeMs))
        this.options.emit(alert);
    } catch {
      // The store did not answer: look again later rather than lose the alert.
      this.decided.delete(key);
      this.options.onError?.();
    }
  }

  private track(map: Map<string, number>, key: string, value: number): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > TRACK_LIMIT) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}
