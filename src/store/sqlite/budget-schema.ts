/** The SQLite budget store's tables, and the migrations of tables made by earlier releases. */
import type Database from 'better-sqlite3';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_lines (
  instance TEXT NOT NULL,
  period   TEXT NOT NULL,
  spent    INTEGER NOT NULL DEFAULT 0,
  reserved INTEGER NOT NULL DEFAULT 0,
  rollover INTEGER NOT NULL DEFAULT 0,
  topup    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instance, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_reservations (
  id          TEXT PRIMARY KEY,
  amount      INTEGER NOT NULL,
  granted_cap INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL,
  lines       TEXT NOT NULL  -- JSON [[instance, period, baseLimitNano], ...]
);
-- fixed_pico, output_pico: added by migrate() (metered streams extend at the reserved price)
CREATE INDEX IF NOT EXISTS budget_reservations_lease ON budget_reservations (lease_expires_at);
CREATE TABLE IF NOT EXISTS budget_instances (
  budget_id TEXT NOT NULL,
  period    TEXT NOT NULL,
  instance  TEXT NOT NULL,
  PRIMARY KEY (budget_id, period, instance)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_claims (
  instance TEXT NOT NULL,
  period   TEXT NOT NULL,
  name     TEXT NOT NULL,
  expires_at INTEGER,          -- ms since epoch; NULL = never
  PRIMARY KEY (instance, period, name)
) WITHOUT ROWID;
`;

export const RESERVATION_COLUMNS = 'id, amount, granted_cap, fixed_pico, output_pico, lines';

/**
 * Columns added after the first release, each guarded by a PRAGMA table_info check (SQLite has no
 * ADD COLUMN IF NOT EXISTS). Rows from before have price 0: an extension can only renew their lease.
 */
export function migrate(db: Database.Database): void {
  const columns = new Set(
    (db.prepare('PRAGMA table_info(budget_reservations)').all() as Array<{ name: string }>).map(
      (c) => c.name,
    ),
  );
  for (const column of ['fixed_pico', 'output_pico']) {
    if (!columns.has(column))
      db.exec(`ALTER TABLE budget_reservations ADD COLUMN ${column} INTEGER NOT NULL DEFAULT 0`);
  }
}
