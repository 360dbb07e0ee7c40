/**
 * The SQLite store's wait queues (issue #17, "wait instead of refuse") and its free notifications.
 * One row per (line, waiting reservation): its position (the request's first enqueue time, kept
 * across retries, the same on every line it waits on so no two waiters can each be ahead of the
 * other), what it needs (its min cap's amount) and until when it waits. Mirrors the Redis queues
 * (redis/lua/common.lua `owed`, `enqueue`, `unqueue`) statement for statement.
 */
import type Database from 'better-sqlite3';
import type { Nano } from '../../money.js';
import type { LineSpec } from '../types.js';

/**
 * Waiters read ahead of a request per line: the queue is walked from its head, so one request's
 * cost stays bounded however long the queue; a request behind more than this many waiters may get
 * money those past the 64th would have been owed (they are served as their own retries come).
 */
export const OWED_SCAN = 64;

export const WAITS_SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_waits (
  instance   TEXT NOT NULL,
  period     TEXT NOT NULL,
  id         TEXT NOT NULL,
  pos        INTEGER NOT NULL,   -- first enqueue time, ms: the place in the queue
  need       INTEGER NOT NULL,   -- nano-USD the waiter needs (its min cap's amount)
  expires_at INTEGER NOT NULL,   -- ms; at or past it the entry no longer counts and is pruned
  PRIMARY KEY (instance, period, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS budget_waits_order ON budget_waits (instance, period, pos, id);
CREATE INDEX IF NOT EXISTS budget_waits_id ON budget_waits (id);
CREATE INDEX IF NOT EXISTS budget_waits_expiry ON budget_waits (expires_at);
`;

interface WaitRow {
  id: string;
  need: number;
  expires_at: number;
}

export function lineKeyOf(instance: string, period: string): string {
  return `${instance}|${period}`;
}

export class SqliteWaits {
  private readonly stmt;

  constructor(db: Database.Database) {
    db.exec(WAITS_SCHEMA);
    const cols = 'SELECT id, need, expires_at FROM budget_waits WHERE instance = ? AND period = ?';
    this.stmt = {
      position: db.prepare<[string], number | null>('SELECT MIN(pos) FROM budget_waits WHERE id = ?').pluck(),
      head: db.prepare<[string, string, number], WaitRow>(`${cols} ORDER BY pos, id LIMIT ?`),
      // BINARY collation compares ids byte for byte, as Redis sorted sets order equal scores.
      ahead: db.prepare<[string, string, number, number, string, number], WaitRow>(
        `${cols} AND (pos < ? OR (pos = ? AND id < ?)) ORDER BY pos, id LIMIT ?`,
      ),
      prune: db.prepare<[string, string, string]>(
        'DELETE FROM budget_waits WHERE instance = ? AND period = ? AND id = ?',
      ),
      upsert: db.prepare<[string, string, string, number, number, number]>(
        `INSERT INTO budget_waits (instance, period, id, pos, need, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (instance, period, id) DO UPDATE SET need = excluded.need, expires_at = excluded.expires_at`,
      ),
      linesOf: db.prepare<[string], { instance: string; period: string }>(
        'SELECT instance, period FROM budget_waits WHERE id = ?',
      ),
      removeId: db.prepare<[string]>('DELETE FROM budget_waits WHERE id = ?'),
      any: db
        .prepare<[string, string], number>(
          // Past place 0: place 0 holds the answers being relayed (hold), which nobody has to wake.
          'SELECT 1 FROM budget_waits WHERE instance = ? AND period = ? AND pos > 0 LIMIT 1',
        )
        .pluck(),
      pruneExpired: db.prepare<[number]>('DELETE FROM budget_waits WHERE expires_at <= ?'),
    };
  }

  /** The request's place (its first enqueue time), or null when it waits nowhere. */
  position(id: string): number | null {
    return this.stmt.position.get(id) ?? null;
  }

  /**
   * What live waiters ahead of `id` (at `pos`; null: behind everyone) need on this line; expired
   * entries met on the way are pruned.
   */
  owed(instance: string, period: string, id: string, pos: number | null, nowMs: number): Nano {
    const rows =
      pos === null
        ? this.stmt.head.all(instance, period, OWED_SCAN)
        : this.stmt.ahead.all(instance, period, pos, pos, id, OWED_SCAN);
    let owed = 0;
    for (const row of rows) {
      if (row.expires_at <= nowMs) this.stmt.prune.run(instance, period, row.id);
      else owed += row.need;
    }
    return owed;
  }

  /** Queues (or, for a retry, keeps the place and refreshes need and expiry of) `id` on a line. */
  enqueue(
    spec: Pick<LineSpec, 'instance' | 'period'>,
    id: string,
    pos: number,
    needNano: Nano,
    untilMs: number,
  ): void {
    this.stmt.upsert.run(spec.instance, spec.period, id, pos, needNano, untilMs);
  }

  /**
   * Queues `id` at place 0 (ahead of every waiter) on each of `lines` ([instance, period, ...]),
   * owed `needNano` until `untilMs`: the hold of an answer being relayed (docs/stores-waiting.md).
   */
  hold(
    lines: ReadonlyArray<readonly [string, string, ...unknown[]]>,
    id: string,
    needNano: Nano,
    untilMs: number,
  ): void {
    for (const [instance, period] of lines) this.stmt.upsert.run(instance, period, id, 0, needNano, untilMs);
  }

  /** Takes `id` out of every queue; returns the keys of lines where others still wait. */
  removeEverywhere(id: string): string[] {
    const lines = this.stmt.linesOf.all(id);
    if (lines.length === 0) return [];
    this.stmt.removeId.run(id);
    return lines
      .filter((l) => this.hasWaiters(l.instance, l.period))
      .map((l) => lineKeyOf(l.instance, l.period));
  }

  hasWaiters(instance: string, period: string): boolean {
    return this.stmt.any.get(instance, period) !== undefined;
  }

  pruneExpired(nowMs: number): void {
    this.stmt.pruneExpired.run(nowMs);
  }
}

type FreedListener = (lineKeys: string[]) => void;

/**
 * Listeners per database file, shared by every store on that file in this process (two gateways
 * in one process see each other's settles); ':memory:' databases are private to their store.
 * Other processes on the file are not told: their waiters poll with the engine's capped back-off.
 */
const byFile = new Map<string, Set<FreedListener>>();

export function freedListeners(path: string): Set<FreedListener> {
  if (path === ':memory:') return new Set();
  let set = byFile.get(path);
  if (!set) {
    set = new Set();
    byFile.set(path, set);
  }
  return set;
}

/** Calls each listener; one that throws does not stop the others or fail the operation. */
export function emitFreed(listeners: Iterable<FreedListener>, lineKeys: string[]): void {
  for (const listener of listeners) {
    try {
      listener(lineKeys);
    } catch {
      // a listener's failure is its own
    }
  }
}
