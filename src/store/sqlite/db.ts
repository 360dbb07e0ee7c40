/**
 * The one SQLite opener of the budget, meta and history stores (each has its own connection to the
 * one file, its own tables), and the one mapping of SQLite failures to StoreUnavailableError.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../types.js';

/** How long a statement waits for the write lock held by another connection or process. */
export const DEFAULT_TIMEOUT_MS = 2000;

/** Opens `path` (or ':memory:'), creating parent directories, in WAL mode. */
export function openDatabase(path: string, timeoutMs = DEFAULT_TIMEOUT_MS): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: timeoutMs });
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode syncs at checkpoints, not at every commit: a crash of the process loses
  // nothing, but a power loss or OS crash may lose the last few commits (spend counted since the
  // last checkpoint). The database itself stays consistent. FULL would cost an fsync per request.
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(timeoutMs))}`);
  return db;
}

/**
 * Runs `fn` in one transaction: BEGIN IMMEDIATE takes the write lock up front, so check-then-apply
 * never interleaves, also across processes; 'deferred' for reads. Failures map through asUnavailable.
 */
export function transactionRunner(db: Database.Database) {
  const tx = db.transaction((fn: () => unknown) => fn());
  return <T>(fn: () => T, mode: 'immediate' | 'deferred' = 'immediate'): T => {
    try {
      return (mode === 'immediate' ? tx.immediate(fn) : tx.deferred(fn)) as T;
    } catch (err) {
      throw asUnavailable(err);
    }
  };
}

/** A lock held past the timeout, a full or unreadable disk, a closed connection: the store is unavailable. */
export function asUnavailable(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)/.test(code)) {
    return new StoreUnavailableError(`sqlite store unavailable: ${(err as Error).message}`, { cause: err });
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new StoreUnavailableError('sqlite store is closed', { cause: err });
  }
  return err;
}
