/**
 * Where SQLite history lives: its own file by default (`<stem>-history.db` beside the budget file),
 * so a history that fills the disk fails its own writes while budgeting goes on. An installation
 * from before the split keeps its history where it is: a budget file that already holds history
 * rows stays the history file until `history.path` says otherwise (docs/history.md).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import Database from 'better-sqlite3';

export function sqliteHistoryPath(storePath: string, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  if (storePath === ':memory:') return ':memory:';
  if (holdsHistory(storePath)) return storePath;
  const stem = basename(storePath, extname(storePath));
  return join(dirname(storePath), `${stem}-history${extname(storePath) || '.db'}`);
}

/** True when the file exists and has a history table with at least one row. */
export function holdsHistory(path: string): boolean {
  if (!existsSync(path)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const tables = db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('usage_hourly', 'request_ledger')",
      )
      .all();
    return tables.some((t) => db!.prepare(`SELECT 1 FROM ${t.name} LIMIT 1`).get() !== undefined);
  } catch {
    // Unreadable now (locked, not a database): the budget store reports that; history goes apart.
    return false;
  } finally {
    db?.close();
  }
}
