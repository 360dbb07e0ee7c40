/**
 * Usage history: hourly rollups and the request ledger, beside the budget counters (the SQLite file
 * or the Redis deployment) but behind their own interface, because nothing on the request path
 * reads or writes them, or in Postgres for fleets (history.store: postgres). The analytics recorder
 * (src/analytics/recorder.ts) writes batches in the background; the admin analytics read them.
 * Three implementations: sqlite/history.ts (its own file by default), redis/history.ts,
 * postgres/history.ts; one contract suite (history.test.ts).
 *
 * Nothing secret goes in: key ids (never key secrets), user and team names, models, counts, money.
 */

import type { Nano } from '../money.js';
import type { RequestRecord } from '../record.js';

/** The dimensions a rollup row is keyed by; '' where the request had none. */
export interface RollupDims {
  /** Virtual key id ('anonymous' for trial users). */
  key: string;
  user: string;
  team: string;
  /** The model billed: the served model, else the requested one (rejected requests). */
  model: string;
  provider: string;
  /** True for requests with fewer output tokens than SHORT_OUTPUT_TOKENS (savings suggestions). */
  short: boolean;
}

/** Additive counters: a rollup row holds their sums. */
export interface UsageCounters {
  requests: number;
  /** Requests answered with a status >= 400 (rejections included). */
  errors: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costNano: Nano;
}

/** One hour of usage for one combination of dimensions. */
export interface RollupRow extends RollupDims, UsageCounters {
  /** Start of the UTC hour (ms since epoch) the requests started in. */
  hourMs: number;
}

/**
 * One proxied request, as the ledger keeps it (the invoice-reconciliation record): the request
 * record less what only live metrics need (anonymous flag, upstream timings). `latencyMs` is
 * stored in whole ms; `costNano` is what the request was billed (0 when rejected or released).
 */
/** The ledger keeps what analytics read; the metering and waiting details go to logs and metrics. */
export type LedgerEntry = Omit<
  RequestRecord,
  | 'anonymous'
  | 'upstreamMs'
  | 'upstreamTtfbMs'
  | 'waitedMs'
  | 'metered'
  | 'extensions'
  | 'cutAtBudget'
  | 'session'
> & {
  /** The agent session (RequestRecord.session), null when none was sent; at most 128 plain characters. */
  session: string | null;
};

export interface HistoryRetention {
  rollupMs: number;
  ledgerMs: number;
}

export interface PruneResult {
  /** Rollup hours (Redis) or rows (SQLite, Postgres) removed. */
  rollups: number;
  /** Ledger hours (Redis) or entries (SQLite, Postgres) removed. */
  ledger: number;
}

export interface HistoryStore {
  readonly kind: 'sqlite' | 'redis' | 'postgres';
  /**
   * Adds `rollups` to the stored sums (rows with the same hour and dimensions add up, across
   * instances too) and appends `ledger`. One transaction (SQLite, Postgres) or one pipeline (Redis).
   * Postgres counts a ledger entry once: a retried batch adds neither the entry nor its rollups again.
   * `retention` bounds how long Redis keeps what is written (expiry as a safety net for prune).
   */
  write(
    rollups: readonly RollupRow[],
    ledger: readonly LedgerEntry[],
    retention: HistoryRetention,
  ): Promise<void>;
  /** Rollup rows of the hours in [fromMs, toMs), hour by hour, oldest first. Read in pages. */
  rollups(fromMs: number, toMs: number): AsyncIterable<RollupRow>;
  /**
   * Ledger entries with fromMs <= timeMs < toMs, oldest first (SQLite: by time; Redis: by hour,
   * then in the order written). Read in pages, so an export streams with bounded memory.
   */
  ledger(fromMs: number, toMs: number): AsyncIterable<LedgerEntry>;
  /** Start of the oldest hour with rollups (ms), or null when there is no history. */
  firstHour(): Promise<number | null>;
  /** Drops rollups of hours before `rollupsBeforeMs` and ledger entries before `ledgerBeforeMs`. */
  prune(rollupsBeforeMs: number, ledgerBeforeMs: number): Promise<PruneResult>;
  close(): Promise<void>;
}

export const HOUR_MS = 3_600_000;

export function hourOf(timeMs: number): number {
  return Math.floor(timeMs / HOUR_MS) * HOUR_MS;
}
