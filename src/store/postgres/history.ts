/**
 * Usage history in PostgreSQL (history.store: postgres), for fleets: many gateways, on one Redis or
 * each on its own SQLite, write to one database. Two tables (schema.ts), both partitioned by time:
 *   usage_hourly    one row per (hour, key, user, team, model, provider, short); monthly partitions;
 *                   additive upserts, so gateways writing the same hour add up
 *   request_ledger  one row per request (primary key time + request id); daily partitions
 * A batch is one transaction: ledger rows with ON CONFLICT DO NOTHING, then the rollups of the
 * entries that were new, so a retried batch (committed, answer lost) counts nothing twice.
 * Retention drops whole partitions and deletes the older rows of the one partition it cuts through.
 * Nothing here is on the request path: a down Postgres fails these calls fast, the recorder keeps
 * the batch and retries.
 */
import pg from 'pg';
import { rollupsOf } from '../../analytics/records.js';
import type { HistoryRetention, HistoryStore, LedgerEntry, PruneResult, RollupRow } from '../history.js';
import { StoreUnavailableError } from '../types.js';
import {
  type DbRow,
  INSERT_LEDGER,
  ledgerArrays,
  ledgerOf,
  ROLLUP_KEY,
  rollupArrays,
  rollupOf,
  UPSERT_ROLLUPS,
} from './rows.js';
import {
  createPartitions,
  listPartitions,
  migrate,
  nextPartition,
  type Partition,
  type PartitionedTable,
  partitionOf,
  withPartitionLock,
} from './schema.js';

export interface PostgresHistoryOptions {
  /** postgres://user:password@host:port/database (the password never reaches a log or an error). */
  url: string;
  /** Bound on connecting and on every query. */
  timeoutMs: number;
  /** Rows per read page. */
  pageSize?: number;
  /** Connections this gateway holds at most (the recorder writes one batch at a time). */
  maxConnections?: number;
}

export class PostgresHistoryStore implements HistoryStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly pageSize: number;
  /** Partitions known to exist (created or seen by this process). */
  private readonly known = new Set<string>();
  private migrating: Promise<void> | undefined;
  private closed = false;

  constructor(options: PostgresHistoryOptions) {
    this.pageSize = options.pageSize ?? 2000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.timeoutMs,
      query_timeout: options.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'llm-budget-gateway',
    });
    // An idle connection cut by a restarting server: the next query reconnects (and fails fast if
    // the server is still down); without this handler the error would end the process.
    this.pool.on('error', () => {});
    // Migrate at start-up; a server that is down then is migrated on the first call that finds it up.
    void this.ready().catch(() => {});
  }

  /** Resolves once the schema is migrated (at most once per process; retried after a failure). */
  ready(): Promise<void> {
    this.migrating ??= this.withClient(async (c) => {
      await migrate(c);
    }).catch((error) => {
      this.migrating = undefined;
      throw error;
    });
    return this.migrating;
  }

  async write(rollups: readonly RollupRow[], ledger: readonly LedgerEntry[], _retention: HistoryRetention) {
    if (rollups.length === 0 && ledger.length === 0) return;
    try {
      await this.writeOnce(rollups, ledger);
    } catch (error) {
      // 23514: no partition for a row: another gateway's prune dropped one this process created.
      if ((error as { cause?: { code?: string } }).cause?.code !== '23514') throw error;
      this.known.clear();
      await this.writeOnce(rollups, ledger);
    }
  }

  private async writeOnce(rollups: readonly RollupRow[], ledger: readonly LedgerEntry[]): Promise<void> {
    await this.ready();
    await this.ensurePartitions([
      ...rollups.map((r) => partitionOf('usage_hourly', r.hourMs)),
      ...ledger.map((e) => partitionOf('request_ledger', e.timeMs)),
    ]);
    await this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        let rows = rollups;
        if (ledger.length > 0) {
          const inserted = new Set(
            (await c.query<{ request_id: string }>(INSERT_LEDGER, ledgerArrays(ledger))).rows.map(
              (r) => r.request_id,
            ),
          );
          // Entries already there were written by an earlier attempt of this batch, rollups included.
          if (inserted.size < ledger.length)
            rows = rollupsOf(ledger.filter((e) => inserted.has(e.requestId)));
        }
        if (rows.length > 0) await c.query(UPSERT_ROLLUPS, rollupArrays(rows));
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  async *rollups(fromMs: number, toMs: number): AsyncIterable<RollupRow> {
    let page = await this.query(
      `SELECT * FROM usage_hourly WHERE hour_ms >= $1 AND hour_ms < $2 ORDER BY ${ROLLUP_KEY} LIMIT $3`,
      [fromMs, toMs, this.pageSize],
    );
    while (page.length > 0) {
      for (const row of page) yield rollupOf(row);
      if (page.length < this.pageSize) return;
      const last = page[page.length - 1]!;
      // Keyset: strictly after the last row returned, in primary-key order.
      page = await this.query(
        `SELECT * FROM usage_hourly WHERE (${ROLLUP_KEY}) > ($1, $2, $3, $4, $5, $6, $7) AND hour_ms < $8
         ORDER BY ${ROLLUP_KEY} LIMIT $9`,
        [
          last.hour_ms,
          last.key_id,
          last.user_name,
          last.team,
          last.model,
          last.provider,
          last.short,
          toMs,
          this.pageSize,
        ],
      );
    }
  }

  async *ledger(fromMs: number, toMs: number): AsyncIterable<LedgerEntry> {
    let after: [number, number] = [fromMs, -1];
    for (;;) {
      // The primary key (time_ms, request_id) gives the range; ties in a millisecond sort by seq.
      const page = await this.query(
        `SELECT * FROM request_ledger WHERE time_ms >= $1 AND (time_ms, seq) > ($1, $2) AND time_ms < $3
         ORDER BY time_ms, seq LIMIT $4`,
        [after[0], after[1], toMs, this.pageSize],
      );
      for (const row of page) yield ledgerOf(row);
      if (page.length < this.pageSize) return;
      const last = page[page.length - 1]!;
      after = [Number(last.time_ms), Number(last.seq)];
    }
  }

  async firstHour(): Promise<number | null> {
    const [row] = await this.query('SELECT min(hour_ms) AS hour FROM usage_hourly', []);
    return row?.hour === null || row?.hour === undefined ? null : Number(row.hour);
  }

  /**
   * Drops the partitions wholly before the cutoffs, then deletes the older rows of the partition
   * each cutoff falls in. Counts are rows (as SQLite's), counted before a partition is dropped.
   */
  async prune(rollupsBeforeMs: number, ledgerBeforeMs: number): Promise<PruneResult> {
    await this.ready();
    return {
      rollups: await this.pruneTable('usage_hourly', 'hour_ms', rollupsBeforeMs),
      ledger: await this.pruneTable('request_ledger', 'time_ms', ledgerBeforeMs),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => {});
  }

  private async pruneTable(table: PartitionedTable, column: string, beforeMs: number): Promise<number> {
    let removed = 0;
    const cut: Partition[] = [];
    await this.withClient((c) =>
      withPartitionLock(c, async () => {
        for (const p of await listPartitions(c, table)) {
          if (p.toMs <= beforeMs) {
            const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${p.name}`);
            removed += Number(rows[0]?.n ?? 0);
            await c.query(`DROP TABLE ${p.name}`);
            this.known.delete(p.name);
          } else if (p.fromMs < beforeMs) cut.push(p);
        }
      }),
    );
    // Outside the lock: a large delete must not hold up the partitions writers create.
    for (const p of cut) {
      try {
        removed += await this.withClient(
          async (c) =>
            (await c.query(`DELETE FROM ${p.name} WHERE ${column} < $1`, [beforeMs])).rowCount ?? 0,
        );
      } catch (error) {
        // 42P01: dropped meanwhile by another gateway's prune.
        if ((error as { cause?: { code?: string } }).cause?.code !== '42P01') throw error;
      }
    }
    return removed;
  }

  /** Creates the partitions the rows need, and the one after each, unless known to exist. */
  private async ensurePartitions(needed: readonly Partition[]): Promise<void> {
    const missing = new Map<string, Partition>();
    for (const p of needed) {
      for (const q of [p, nextPartition(p)]) if (!this.known.has(q.name)) missing.set(q.name, q);
    }
    if (missing.size === 0) return;
    await this.withClient((c) => createPartitions(c, [...missing.values()]));
    for (const name of missing.keys()) this.known.add(name);
  }

  private async query(sql: string, params: unknown[]): Promise<DbRow[]> {
    await this.ready();
    return this.withClient(async (c) => (await c.query<DbRow>(sql, params)).rows);
  }

  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('history store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let broken = false;
    try {
      return await fn(client);
    } catch (error) {
      broken = isConnectionError(error);
      throw unavailable(error);
    } finally {
      // A connection that failed mid-query is discarded, not handed to the next caller.
      client.release(broken);
    }
  }
}

/** Every failure surfaces as the store being unavailable (the recorder retries), cause kept. */
function unavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const message = (error as Error)?.message ?? String(error);
  // pg's messages name hosts and ports, never the password of the connection string.
  return new StoreUnavailableError(`postgres history unavailable: ${message}`, { cause: error });
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && /^(08|57P|53)/.test(code)) return true;
  return !(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code));
}
