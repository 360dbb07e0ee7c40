/**
 * Usage history in the SQLite file, beside the counters (own connection, own tables):
 *   usage_hourly    one row per (hour, key, user, team, model, provider, short), counters added up
 *   request_ledger  one row per request, indexed by time (`session` added later: a file from an
 *                   older gateway gets the column at start-up, NULL in the rows it already had)
 * Reads page with keyset queries, so an export never holds the connection between pages (the
 * recorder may write in between) and never loads more than a page.
 */
import type Database from 'better-sqlite3';
import type { HistoryRetention, HistoryStore, LedgerEntry, PruneResult, RollupRow } from '../history.js';
import { StoreUnavailableError } from '../types.js';
import { asUnavailable, openDatabase } from './db.js';

export interface SqliteHistoryOptions {
  /** File path, or ':memory:' (history then lives as long as the process). */
  path: string;
  timeoutMs?: number;
  /** Rows per read page. */
  pageSize?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS usage_hourly (
  hour_ms  INTEGER NOT NULL,
  key_id   TEXT NOT NULL,
  user     TEXT NOT NULL,
  team     TEXT NOT NULL,
  model    TEXT NOT NULL,
  provider TEXT NOT NULL,
  short    INTEGER NOT NULL,   -- 1: fewer output tokens than SHORT_OUTPUT_TOKENS
  requests INTEGER NOT NULL,
  errors   INTEGER NOT NULL,
  input_tokens        INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens  INTEGER NOT NULL,
  output_tokens       INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  cost_nano           INTEGER NOT NULL,
  PRIMARY KEY (hour_ms, key_id, user, team, model, provider, short)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_ledger (
  id              INTEGER PRIMARY KEY,
  time_ms         INTEGER NOT NULL,
  request_id      TEXT NOT NULL,
  endpoint        TEXT NOT NULL,
  key_id          TEXT,
  user            TEXT,
  team            TEXT,
  requested_model TEXT,
  served_model    TEXT,
  provider        TEXT,
  stream          INTEGER NOT NULL,
  status          INTEGER NOT NULL,
  error_code      TEXT,
  input_tokens        INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens  INTEGER NOT NULL,
  output_tokens       INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  cost_nano       INTEGER NOT NULL,
  estimate_nano   INTEGER NOT NULL,
  latency_ms      INTEGER NOT NULL,
  downgraded      INTEGER NOT NULL,
  clamped         INTEGER NOT NULL,
  settlement      TEXT NOT NULL,
  session         TEXT
);
CREATE INDEX IF NOT EXISTS request_ledger_time ON request_ledger (time_ms);
`;

/** Columns added after a table was first made: added to a file made before them, once. */
const ADDED_LEDGER_COLUMNS: ReadonlyArray<readonly [name: string, type: string]> = [['session', 'TEXT']];

interface RollupDbRow {
  hour_ms: number;
  key_id: string;
  user: string;
  team: string;
  model: string;
  provider: string;
  short: number;
  requests: number;
  errors: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano: number;
}

interface LedgerDbRow {
  id: number;
  time_ms: number;
  request_id: string;
  endpoint: string;
  key_id: string | null;
  user: string | null;
  team: string | null;
  requested_model: string | null;
  served_model: string | null;
  provider: string | null;
  stream: number;
  status: number;
  error_code: string | null;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano: number;
  estimate_nano: number;
  latency_ms: number;
  downgraded: number;
  clamped: number;
  settlement: LedgerEntry['settlement'];
  session: string | null;
}

const ROLLUP_KEY = 'hour_ms, key_id, user, team, model, provider, short';
/** Rows deleted per statement when pruning, so one prune never blocks the event loop for long. */
const PRUNE_CHUNK = 5000;

export class SqliteHistoryStore implements HistoryStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly pageSize: number;
  private readonly stmt;
  private readonly writeTx: Database.Transaction<
    (rollups: readonly RollupRow[], ledger: readonly LedgerEntry[]) => void
  >;
  private closed = false;

  constructor(options: SqliteHistoryOptions) {
    this.pageSize = options.pageSize ?? 2000;
    this.db = openDatabase(options.path, options.timeoutMs);
    this.db.exec(SCHEMA);
    addMissingColumns(this.db, 'request_ledger', ADDED_LEDGER_COLUMNS);
    this.stmt = {
      addRollup: this.db.prepare(
        `INSERT INTO usage_hourly (${ROLLUP_KEY}, requests, errors, input_tokens, cached_input_tokens,
           cache_write_tokens, output_tokens, reasoning_tokens, cost_nano)
         VALUES (@hourMs, @key, @user, @team, @model, @provider, @short, @requests, @errors, @inputTokens,
           @cachedInputTokens, @cacheWriteTokens, @outputTokens, @reasoningTokens, @costNano)
         ON CONFLICT (${ROLLUP_KEY}) DO UPDATE SET
           requests = requests + excluded.requests,
           errors = errors + excluded.errors,
           input_tokens = input_tokens + excluded.input_tokens,
           cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
           cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
           output_tokens = output_tokens + excluded.output_tokens,
           reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
           cost_nano = cost_nano + excluded.cost_nano`,
      ),
      addLedger: this.db.prepare(
        `INSERT INTO request_ledger (time_ms, request_id, endpoint, key_id, user, team, requested_model,
           served_model, provider, stream, status, error_code, input_tokens, cached_input_tokens,
           cache_write_tokens, output_tokens, reasoning_tokens, cost_nano, estimate_nano, latency_ms,
           downgraded, clamped, settlement, session)
         VALUES (@timeMs, @requestId, @endpoint, @keyId, @user, @team, @requestedModel, @servedModel,
           @provider, @stream, @status, @errorCode, @inputTokens, @cachedInputTokens, @cacheWriteTokens,
           @outputTokens, @reasoningTokens, @costNano, @estimateNano, @latencyMs, @downgraded, @clamped,
           @settlement, @session)`,
      ),
      // Keyset pages: strictly after the last row returned, in primary-key order.
      rollupFirst: this.db.prepare<[number, number, number], RollupDbRow>(
        `SELECT * FROM usage_hourly WHERE hour_ms >= ? AND hour_ms < ? ORDER BY ${ROLLUP_KEY} LIMIT ?`,
      ),
      rollupNext: this.db.prepare<
        [number, string, string, string, string, string, number, number, number],
        RollupDbRow
      >(
        `SELECT * FROM usage_hourly WHERE (${ROLLUP_KEY}) > (?, ?, ?, ?, ?, ?, ?) AND hour_ms < ?
         ORDER BY ${ROLLUP_KEY} LIMIT ?`,
      ),
      ledgerPage: this.db.prepare<[number, number, number, number], LedgerDbRow>(
        `SELECT * FROM request_ledger WHERE (time_ms, id) > (?, ?) AND time_ms < ?
         ORDER BY time_ms, id LIMIT ?`,
      ),
      firstHour: this.db.prepare<[], { hour: number | null }>(
        'SELECT MIN(hour_ms) AS hour FROM usage_hourly',
      ),
      pruneRollups: this.db.prepare<[number, number]>(
        `DELETE FROM usage_hourly WHERE (${ROLLUP_KEY}) IN
           (SELECT ${ROLLUP_KEY} FROM usage_hourly WHERE hour_ms < ? LIMIT ?)`,
      ),
      pruneLedger: this.db.prepare<[number, number]>(
        'DELETE FROM request_ledger WHERE id IN (SELECT id FROM request_ledger WHERE time_ms < ? LIMIT ?)',
      ),
    };
    this.writeTx = this.db.transaction((rollups: readonly RollupRow[], ledger: readonly LedgerEntry[]) => {
      for (const row of rollups) this.stmt.addRollup.run({ ...row, short: row.short ? 1 : 0 });
      for (const entry of ledger) {
        this.stmt.addLedger.run({
          ...entry,
          stream: entry.stream ? 1 : 0,
          downgraded: entry.downgraded ? 1 : 0,
          clamped: entry.clamped ? 1 : 0,
        });
      }
    });
  }

  async write(rollups: readonly RollupRow[], ledger: readonly LedgerEntry[], _retention: HistoryRetention) {
    this.guard(() => this.writeTx.immediate(rollups, ledger));
  }

  async *rollups(fromMs: number, toMs: number): AsyncIterable<RollupRow> {
    let page = this.guard(() => this.stmt.rollupFirst.all(fromMs, toMs, this.pageSize));
    while (page.length > 0) {
      for (const row of page) yield rollupOf(row);
      const last = page[page.length - 1]!;
      if (page.length < this.pageSize) return;
      page = this.guard(() =>
        this.stmt.rollupNext.all(
          last.hour_ms,
          last.key_id,
          last.user,
          last.team,
          last.model,
          last.provider,
          last.short,
          toMs,
          this.pageSize,
        ),
      );
    }
  }

  async *ledger(fromMs: number, toMs: number): AsyncIterable<LedgerEntry> {
    let after: [number, number] = [fromMs, -1];
    for (;;) {
      const page = this.guard(() => this.stmt.ledgerPage.all(after[0], after[1], toMs, this.pageSize));
      for (const row of page) yield ledgerOf(row);
      if (page.length < this.pageSize) return;
      const last = page[page.length - 1]!;
      after = [last.time_ms, last.id];
    }
  }

  async firstHour(): Promise<number | null> {
    return this.guard(() => this.stmt.firstHour.get()?.hour ?? null);
  }

  async prune(rollupsBeforeMs: number, ledgerBeforeMs: number): Promise<PruneResult> {
    const result: PruneResult = { rollups: 0, ledger: 0 };
    for (;;) {
      const n = this.guard(() => this.stmt.pruneRollups.run(rollupsBeforeMs, PRUNE_CHUNK).changes);
      result.rollups += n;
      if (n < PRUNE_CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (;;) {
      const n = this.guard(() => this.stmt.pruneLedger.run(ledgerBeforeMs, PRUNE_CHUNK).changes);
      result.ledger += n;
      if (n < PRUNE_CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** SQLite errors (a lock held past the timeout, a full disk) surface as the store being unavailable. */
  private guard<T>(fn: () => T): T {
    if (this.closed) throw new StoreUnavailableError('history store is closed');
    try {
      return fn();
    } catch (error) {
      throw asUnavailable(error);
    }
  }
}

function rollupOf(row: RollupDbRow): RollupRow {
  return {
    hourMs: row.hour_ms,
    key: row.key_id,
    user: row.user,
    team: row.team,
    model: row.model,
    provider: row.provider,
    short: row.short === 1,
    requests: row.requests,
    errors: row.errors,
    inputTokens: row.input_tokens,
    cachedInputTokens: row.cached_input_tokens,
    cacheWriteTokens: row.cache_write_tokens,
    outputTokens: row.output_tokens,
    reasoningTokens: row.reasoning_tokens,
    costNano: row.cost_nano,
  };
}

function ledgerOf(row: LedgerDbRow): LedgerEntry {
  return {
    timeMs: row.time_ms,
    requestId: row.request_id,
    endpoint: row.endpoint,
    keyId: row.key_id,
    user: row.user,
    team: row.team,
    requestedModel: row.requested_model,
    servedModel: row.served_model,
    provider: row.provider,
    stream: row.stream === 1,
    status: row.status,
    errorCode: row.error_code,
    inputTokens: row.input_tokens,
    cachedInputTokens: row.cached_input_tokens,
    cacheWriteTokens: row.cache_write_tokens,
    outputTokens: row.output_tokens,
    reasoningTokens: row.reasoning_tokens,
    costNano: row.cost_nano,
    estimateNano: row.estimate_nano,
    latencyMs: row.latency_ms,
    downgraded: row.downgraded === 1,
    clamped: row.clamped === 1,
    settlement: row.settlement,
    session: row.session ?? null,
  };
}

/** ALTER TABLE ADD COLUMN for each column a file made by an older gateway lacks (NULL in old rows). */
function addMissingColumns(
  db: Database.Database,
  table: string,
  columns: ReadonlyArray<readonly [name: string, type: string]>,
): void {
  const present = new Set(
    (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name),
  );
  for (const [name, type] of columns) {
    if (!present.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}
