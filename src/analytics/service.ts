/**
 * The admin analytics of one gateway instance: the recorder that feeds the history, and the
 * readers the admin routes, /v1/budget and the metrics use. Forecasts and anomaly checks also run
 * in the background (every minute by default) so the request path and the metrics scrape only read
 * their results from memory, and so each new anomaly raises one alert.
 */
import type { Logger } from 'pino';
import { hasForecastEvidence } from '../budget/forecast-evidence.js';
import { type ExhaustionForecaster, linearExhaustion } from '../budget/snapshot.js';
import type { RuntimeConfig } from '../config/runtime.js';
import type { Nano } from '../money.js';
import type { RequestRecord } from '../record.js';
import { type HistoryStore, HOUR_MS, hourOf, type LedgerEntry, type PruneResult } from '../store/history.js';
import type { BudgetStore } from '../store/types.js';
import { type AnomalyFinding, findAnomalies } from './budget-anomalies.js';
import { forecastLines, isTemplate, type LineForecast } from './budget-forecasts.js';
import { type BurnRate, type BurnRateSource, project } from './forecast.js';
import { Recorder, type RecorderSettings } from './recorder.js';
import { SpendHistory } from './spend-history.js';
import { candidatePairs, type Suggestion, suggestSavings } from './suggestions.js';
import {
  hourRange,
  ledgerUsageRows,
  needsLedger,
  type UsageQuery,
  type UsageReport,
  usageReport,
} from './usage-report.js';

/** Raised once per anomaly episode (when a budget or key turns anomalous), across instances. */
export interface AnomalyEvent {
  type: 'anomaly';
  subject: 'budget' | 'key';
  /** Budget id or key id. */
  id: string;
  lastHourNano: Nano;
  medianNano: Nano;
  madNano: Nano;
  score: number;
  windowStartMs: number;
  windowEndMs: number;
  timeMs: number;
}

export interface AnalyticsOptions {
  config: () => RuntimeConfig;
  /** Budget balances, template instances and once-only claims (alert deduplication). */
  store: BudgetStore;
  history: HistoryStore;
  clock?: () => number;
  onAnomaly?: (event: AnomalyEvent) => void;
  /** Records dropped from the history because its store stayed down past the buffer bound. */
  onHistoryDropped?: (count: number) => void;
  /** Background forecast/anomaly pass; 0 disables it (tests call refresh()). Default 60 000. */
  refreshIntervalMs?: number;
  /** Retention pass; 0 disables it. Default one hour. */
  pruneIntervalMs?: number;
  logger?: Logger;
}

export interface AnomalyReport {
  generatedAtMs: number;
  /** Every budget and key checked, anomalous or not. */
  findings: AnomalyFinding[];
}

export interface Analytics extends BurnRateSource {
  readonly history: HistoryStore;
  /** The request observer's hook: buffers the record; never blocks, never throws. */
  record(record: RequestRecord): void;
  /** Writes the buffered records now. */
  flush(): Promise<void>;
  /** Applies retention now. */
  prune(): Promise<PruneResult>;
  /** Recomputes forecasts into memory and raises alerts for new anomalies. */
  refresh(): Promise<void>;
  /** Seconds until each config/API budget runs out by the last background forecast; null: not this period. */
  exhaustionEtaSeconds(): Map<string, number | null>;
  /** For the metrics snapshot: history-based exhaustion time, linear where history has none. */
  readonly exhaustionForecaster: ExhaustionForecaster;
  forecasts(): Promise<LineForecast[]>;
  anomalies(): Promise<AnomalyReport>;
  suggestions(fromMs: number, toMs: number, minSavingsNano: Nano): Promise<Suggestion[]>;
  usage(query: UsageQuery): Promise<UsageReport>;
  ledger(fromMs: number, toMs: number): AsyncIterable<LedgerEntry>;
  /** Forget cached history (after writing history in the past, e.g. an import). */
  invalidate(): void;
  close(): Promise<void>;
}

export function recorderSettings(cfg: RuntimeConfig): RecorderSettings {
  const h = cfg.history;
  return {
    flushIntervalMs: h.flushIntervalMs,
    maxBatch: h.flushMaxRecords,
    retention: { rollupMs: h.rollupRetentionMs, ledgerMs: h.ledgerRetentionMs },
    maxBuffered: h.bufferMaxEntries,
  };
}

/** At most one "history dropped" error line per this long (the counter has every drop). */
const DROP_LOG_INTERVAL_MS = 60_000;

export function createAnalytics(options: AnalyticsOptions): Analytics {
  const clock = options.clock ?? Date.now;
  const spend = new SpendHistory(options.history);
  let droppedSinceLog = 0;
  let lastDropLogMs = Number.NEGATIVE_INFINITY;
  const recorder = new Recorder({
    store: options.history,
    settings: () => recorderSettings(options.config()),
    clock,
    pruneIntervalMs: options.pruneIntervalMs,
    onError: (operation, error) =>
      options.logger?.warn({ msg: `usage history ${operation} failed`, error: (error as Error).message }),
    onDropped: (count) => {
      options.onHistoryDropped?.(count);
      droppedSinceLog += count;
      const now = clock();
      if (now - lastDropLogMs < DROP_LOG_INTERVAL_MS) return;
      options.logger?.error({
        msg: 'usage history buffer full: records dropped (history store down)',
        dropped: droppedSinceLog,
        buffer_max_entries: options.config().history.bufferMaxEntries,
      });
      lastDropLogMs = now;
      droppedSinceLog = 0;
    },
  });

  let rates = new Map<string, BurnRate>();
  let etas = new Map<string, number | null>();
  let active = new Set<string>();
  let refreshing: Promise<void> | undefined;

  const rateKey = (instance: string, periodId: string) => `${instance}\n${periodId}`;
  const settings = () => {
    const h = options.config().history;
    return { minVolumeNano: h.anomalyMinNano, threshold: h.anomalyScore };
  };

  /**
   * Watched since this instance started, or since the end of the history's first hour (history
   * outlives restarts; its first hour may have begun before its first record).
   */
  const startedAtMs = clock();
  let observedSinceMs = startedAtMs;
  const hasEvidence: BurnRateSource['hasEvidence'] = (period) =>
    hasForecastEvidence({ ...period, observedSinceMs }, options.config().forecast);

  async function computeForecasts(nowMs: number): Promise<LineForecast[]> {
    const cfg = options.config();
    const first = await options.history.firstHour();
    if (first !== null) observedSinceMs = Math.min(startedAtMs, first + HOUR_MS);
    const lines = await forecastLines(cfg, options.store, spend, first, nowMs, observedSinceMs);
    const nextRates = new Map<string, BurnRate>();
    const nextEtas = new Map<string, number | null>();
    const fixed = new Set(cfg.budgets.filter((b) => !isTemplate(b)).map((b) => b.id));
    for (const line of lines) {
      if (line.forecast.method === 'ewma') {
        nextRates.set(rateKey(line.instance, line.period.id), {
          rateNanoPerHour: line.forecast.rateNanoPerHour,
          computedAtMs: nowMs,
        });
      }
      if (fixed.has(line.budgetId) && line.instance === line.budgetId) {
        const at = line.forecast.exhaustedAtMs;
        nextEtas.set(line.budgetId, at === null ? null : Math.max(0, (at - nowMs) / 1000));
      }
    }
    rates = nextRates;
    etas = nextEtas;
    return lines;
  }

  async function computeAnomalies(nowMs: number): Promise<AnomalyReport> {
    const cfg = options.config();
    const first = await options.history.firstHour();
    const findings = await findAnomalies(cfg, spend, first, nowMs, settings());
    return { generatedAtMs: nowMs, findings };
  }

  /** Alerts for subjects that turned anomalous; the store claim makes one instance raise each. */
  async function alertNew(report: AnomalyReport): Promise<void> {
    const now = new Set<string>();
    for (const finding of report.findings) {
      if (!finding.anomalous) continue;
      const id = `${finding.subject}:${finding.id}`;
      now.add(id);
      if (active.has(id) || !options.onAnomaly) continue;
      const hour = `h${hourOf(report.generatedAtMs)}`;
      if (!(await options.store.claimOnce(`anomaly:${id}`, hour, 'anomaly', 2 * 3600, report.generatedAtMs)))
        continue;
      options.onAnomaly({
        type: 'anomaly',
        subject: finding.subject,
        id: finding.id,
        lastHourNano: finding.lastHourNano,
        medianNano: finding.medianNano,
        madNano: finding.madNano,
        score: finding.score,
        windowStartMs: finding.windowStartMs,
        windowEndMs: finding.windowEndMs,
        timeMs: report.generatedAtMs,
      });
    }
    active = now;
  }

  async function refreshOnce(): Promise<void> {
    const nowMs = clock();
    try {
      await flushQuietly();
      await computeForecasts(nowMs);
      await alertNew(await computeAnomalies(nowMs));
    } catch (error) {
      options.logger?.warn({ msg: 'analytics refresh failed', error: (error as Error).message });
      throw error;
    }
  }

  const refresh = (): Promise<void> => {
    refreshing ??= refreshOnce().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };

  const interval = options.refreshIntervalMs ?? 60_000;
  const timer = interval > 0 ? setInterval(() => void refresh().catch(() => {}), interval) : undefined;
  timer?.unref();

  /** Reads answer with the requests finished so far; a failed write shows in the logs, not here. */
  const flushQuietly = () => recorder.flush().catch(() => {});

  const rateOf = (instance: string, periodId: string) => rates.get(rateKey(instance, periodId));

  return {
    history: options.history,
    record: (record) => recorder.record(record),
    flush: () => recorder.flush(),
    prune: () => recorder.prune(clock()),
    refresh,
    rateOf,
    hasEvidence,
    exhaustionEtaSeconds: () => new Map(etas),
    exhaustionForecaster: (input) => {
      const rate = rateOf(input.line.instance, input.period.id);
      const { limitNano, spentNano, reservedNano } = input.balance;
      if (limitNano - spentNano - reservedNano <= 0) return linearExhaustion(input);
      const period = {
        periodStartMs: input.period.startMs,
        periodEndMs: input.period.endMs,
        nowMs: input.nowMs,
      };
      if (!hasEvidence(period)) return null;
      if (!rate) return linearExhaustion(input);
      return project(
        {
          spentNano,
          limitNano: input.balance.limitNano,
          periodEndMs: input.period.endMs,
          nowMs: input.nowMs,
        },
        rate.rateNanoPerHour,
      ).exhaustedAtMs;
    },
    async forecasts() {
      await flushQuietly();
      return computeForecasts(clock());
    },
    async anomalies() {
      await flushQuietly();
      return computeAnomalies(clock());
    },
    async suggestions(fromMs, toMs, minSavingsNano) {
      await flushQuietly();
      const cfg = options.config();
      const range = hourRange(fromMs, toMs);
      const rows = options.history.rollups(range.fromMs, range.toMs);
      return suggestSavings(rows, cfg.models, candidatePairs(cfg), minSavingsNano);
    },
    async usage(query) {
      await flushQuietly();
      if (needsLedger(query.groupBy)) {
        return usageReport(
          ledgerUsageRows(options.history.ledger(query.fromMs, query.toMs)),
          query,
          'ledger',
        );
      }
      return usageReport(options.history.rollups(query.fromMs, query.toMs), query);
    },
    ledger: (fromMs, toMs) => options.history.ledger(fromMs, toMs),
    invalidate: () => spend.invalidate(),
    async close() {
      if (timer) clearInterval(timer);
      await refreshing?.catch(() => {});
      await recorder.close();
      await options.history.close();
    },
  };
}
