/**
 * The Postgres history schema: numbered migrations (applied once, in order, each in the one
 * start-up transaction, under an advisory lock so gateways starting together migrate once), and
 * the time partitions the two partitioned tables need (one per UTC day for the ledger, one per UTC
 * month for the rollups), created ahead of the writes that need them.
 *
 * Times are bigint ms since the epoch, as everywhere else in the gateway (no time-zone
 * conversions between the stores); money and token counts are bigint (integer nano-USD).
 */
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger and hourly rollups, partitioned by time',
    sql: `
CREATE TABLE usage_hourly (
  hour_ms             bigint  NOT NULL,
  requests            bigint  NOT NULL,
  errors              bigint  NOT NULL,
  input_tokens        bigint  NOT NULL,
  cached_input_tokens bigint  NOT NULL,
  cache_write_tokens  bigint  NOT NULL,
  output_tokens       bigint  NOT NULL,
  reasoning_tokens    bigint  NOT NULL,
  cost_nano           bigint  NOT NULL,
  short               boolean NOT NULL,
  key_id              text COLLATE "C" NOT NULL,
  user_name           text COLLATE "C" NOT NULL,
  team                text COLLATE "C" NOT NULL,
  model               text COLLATE "C" NOT NULL,
  provider            text COLLATE "C" NOT NULL,
  PRIMARY KEY (hour_ms, key_id, user_name, team, model, provider, short)
) PARTITION BY RANGE (hour_ms);

CREATE SEQUENCE request_ledger_seq;
-- Columns widest first, so alignment padding does not add to every row.
CREATE TABLE request_ledger (
  time_ms             bigint   NOT NULL,
  -- Write order, to break ties between requests of the same millisecond (as SQLite and Redis do).
  seq                 bigint   NOT NULL DEFAULT nextval('request_ledger_seq'),
  input_tokens        bigint   NOT NULL,
  cached_input_tokens bigint   NOT NULL,
  cache_write_tokens  bigint   NOT NULL,
  output_tokens       bigint   NOT NULL,
  reasoning_tokens    bigint   NOT NULL,
  cost_nano           bigint   NOT NULL,
  estimate_nano       bigint   NOT NULL,
  latency_ms          integer  NOT NULL,
  status              smallint NOT NULL,
  stream              boolean  NOT NULL,
  downgraded          boolean  NOT NULL,
  clamped             boolean  NOT NULL,
  request_id          text     NOT NULL,
  endpoint            text     NOT NULL,
  settlement          text     NOT NULL,
  key_id              text,
  user_name           text,
  team                text,
  requested_model     text,
  served_model        text,
  provider            text,
  error_code          text,
  -- Every request once: a retried batch (its commit answered, the answer lost) inserts nothing.
  -- The partition key has to be part of it; a request keeps its time, so this is the request id.
  PRIMARY KEY (time_ms, request_id)
) PARTITION BY RANGE (time_ms);
`,
  },
  {
    version: 2,
    name: 'the agent session of a request in the ledger',
    // On the partitioned parent: every partition, present and future, gets it (NULL in old rows).
    sql: 'ALTER TABLE request_ledger ADD COLUMN session text;',
  },
];

/** Keys of the advisory locks (arbitrary constants; one per purpose, shared by every gateway). */
const MIGRATION_LOCK = 7_410_001;
const PARTITION_LOCK = 7_410_002;

/** Applies the migrations not yet applied; several gateways at once: the lock makes it once. */
export async function migrate(client: pg.ClientBase, migrations = MIGRATIONS): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export type PartitionedTable = 'request_ledger' | 'usage_hourly';

export interface Partition {
  table: PartitionedTable;
  name: string;
  fromMs: number;
  toMs: number;
}

/** The ledger's partition (a UTC day) or the rollups' (a UTC month) holding `timeMs`. */
export function partitionOf(table: PartitionedTable, timeMs: number): Partition {
  const d = new Date(timeMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const pad = (n: number) => String(n).padStart(2, '0');
  if (table === 'request_ledger') {
    const day = d.getUTCDate();
    return {
      table,
      name: `request_ledger_${y}${pad(m + 1)}${pad(day)}`,
      fromMs: Date.UTC(y, m, day),
      toMs: Date.UTC(y, m, day + 1),
    };
  }
  return {
    table,
    name: `usage_hourly_${y}${pad(m + 1)}`,
    fromMs: Date.UTC(y, m, 1),
    toMs: Date.UTC(y, m + 1, 1),
  };
}

/** The partition after `p` (created ahead, so the first write of a new day does not wait on DDL). */
export function nextPartition(p: Partition): Partition {
  return partitionOf(p.table, p.toMs);
}

/**
 * Runs `fn` in one transaction holding the partition lock: creating and dropping partitions from
 * several gateways at once then never races (IF [NOT] EXISTS is not safe against concurrency).
 */
export async function withPartitionLock<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Creates the partitions that do not exist yet. */
export async function createPartitions(
  client: pg.ClientBase,
  partitions: readonly Partition[],
): Promise<void> {
  if (partitions.length === 0) return;
  await withPartitionLock(client, async () => {
    for (const p of partitions) {
      // Names and bounds are computed from numbers (partitionOf), never taken from input text.
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ${p.table} FOR VALUES FROM (${p.fromMs}) TO (${p.toMs})`,
      );
    }
  });
}

/** The partitions of `table` that exist, oldest first, with their bounds read from the catalog. */
export async function listPartitions(client: pg.ClientBase, table: PartitionedTable): Promise<Partition[]> {
  const { rows } = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass`,
    [table],
  );
  const out: Partition[] = [];
  for (const row of rows) {
    const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(row.bound);
    if (m) out.push({ table, name: row.name, fromMs: Number(m[1]), toMs: Number(m[2]) });
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}
