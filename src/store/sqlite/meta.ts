/**
 * API-made budgets and keys in the SQLite file, beside the counters (own connection, own tables).
 * Processes sharing the file see each other's writes by polling the version row: a primary-key
 * read, cheap enough for every 250 ms. (PRAGMA data_version would also move on every counter
 * write, i.e. on every request, so it cannot tell metadata changes apart.)
 */
import type Database from 'better-sqlite3';
import { type MetaKind, type MetaSnapshot, type MetaStore, type PutMode, parseRecord } from '../meta.js';
import { openDatabase, transactionRunner } from './db.js';

export interface SqliteMetaStoreOptions {
  path: string;
  timeoutMs?: number;
  pollIntervalMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS gateway_meta (
  kind  TEXT NOT NULL,   -- budgets | keys
  id    TEXT NOT NULL,
  value TEXT NOT NULL,   -- JSON
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateway_meta_version (
  one     INTEGER PRIMARY KEY CHECK (one = 1),
  version INTEGER NOT NULL
);
INSERT OR IGNORE INTO gateway_meta_version (one, version) VALUES (1, 0);
`;

interface Row {
  kind: MetaKind;
  id: string;
  value: string;
}

export class SqliteMetaStore implements MetaStore {
  readonly kind = 'sqlite' as const;
  readonly pollIntervalMs: number;
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly run: ReturnType<typeof transactionRunner>;

  constructor(options: SqliteMetaStoreOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.db = openDatabase(options.path, options.timeoutMs);
    this.db.exec(SCHEMA);
    this.run = transactionRunner(this.db);
    this.stmt = {
      version: this.db.prepare<[], number>('SELECT version FROM gateway_meta_version WHERE one = 1').pluck(),
      bump: this.db
        .prepare<[], number>(
          'UPDATE gateway_meta_version SET version = version + 1 WHERE one = 1 RETURNING version',
        )
        .pluck(),
      all: this.db.prepare<[], Row>('SELECT kind, id, value FROM gateway_meta ORDER BY kind, id'),
      insert: this.db.prepare<[string, string, string]>(
        'INSERT OR IGNORE INTO gateway_meta (kind, id, value) VALUES (?, ?, ?)',
      ),
      update: this.db.prepare<[string, string, string]>(
        'UPDATE gateway_meta SET value = ? WHERE kind = ? AND id = ?',
      ),
      delete: this.db.prepare<[string, string]>('DELETE FROM gateway_meta WHERE kind = ? AND id = ?'),
    };
  }

  async version(): Promise<number> {
    return this.run(() => this.stmt.version.get() ?? 0, 'deferred');
  }

  async snapshot(): Promise<MetaSnapshot> {
    return this.run(() => {
      const snapshot: MetaSnapshot = { version: this.stmt.version.get() ?? 0, budgets: [], keys: [] };
      for (const row of this.stmt.all.all()) {
        if (row.kind === 'budgets' || row.kind === 'keys')
          snapshot[row.kind].push({ id: row.id, value: parseRecord(row.value) });
      }
      return snapshot;
    }, 'deferred');
  }

  async put(kind: MetaKind, id: string, value: unknown, mode: PutMode): Promise<number | null> {
    const json = JSON.stringify(value);
    return this.run(() => {
      const changed =
        mode === 'create'
          ? this.stmt.insert.run(kind, id, json).changes
          : this.stmt.update.run(json, kind, id).changes;
      return changed === 1 ? (this.stmt.bump.get() ?? null) : null;
    });
  }

  async remove(kind: MetaKind, id: string): Promise<number | null> {
    return this.run(() =>
      this.stmt.delete.run(kind, id).changes === 1 ? (this.stmt.bump.get() ?? null) : null,
    );
  }

  subscribe(): () => void {
    // No push channel in SQLite: instances poll version().
    return () => {};
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
