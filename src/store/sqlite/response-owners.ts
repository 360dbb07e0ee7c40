/**
 * Response owners in the SQLite budget file (see ../response-owners.ts), on their own connection:
 *   response_owners  id -> owner, provider, expires_ms
 * Expired rows are never read; every PRUNE_EVERY writes a bounded delete drops some of them, so the
 * table stays at about the responses of the last OWNER_TTL_MS (roughly 100 bytes each on disk).
 */
import type Database from 'better-sqlite3';
import { OWNER_TTL_MS, type ResponseOwner, type ResponseOwnerStore } from '../response-owner-types.js';
import { StoreUnavailableError } from '../types.js';
import { asUnavailable, openDatabase } from './db.js';

export interface SqliteResponseOwnersOptions {
  path: string;
  timeoutMs?: number;
  clock?: () => number;
  ttlMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS response_owners (
  id         TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  provider   TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
`;
const PRUNE_EVERY = 1000;
const PRUNE_CHUNK = 1000;

export class SqliteResponseOwners implements ResponseOwnerStore {
  private readonly db: Database.Database;
  private readonly clock: () => number;
  private readonly ttlMs: number;
  private readonly stmt;
  private writes = 0;
  private closed = false;

  constructor(options: SqliteResponseOwnersOptions) {
    this.db = openDatabase(options.path, options.timeoutMs);
    this.db.exec(SCHEMA);
    this.clock = options.clock ?? Date.now;
    this.ttlMs = options.ttlMs ?? OWNER_TTL_MS;
    this.stmt = {
      put: this.db.prepare(
        'INSERT OR REPLACE INTO response_owners (id, owner, provider, expires_ms) VALUES (?, ?, ?, ?)',
      ),
      get: this.db.prepare<[string, number], { owner: string; provider: string }>(
        'SELECT owner, provider FROM response_owners WHERE id = ? AND expires_ms > ?',
      ),
      prune: this.db.prepare<[number, number]>(
        `DELETE FROM response_owners WHERE id IN
           (SELECT id FROM response_owners WHERE expires_ms <= ? LIMIT ?)`,
      ),
    };
  }

  async put(responseId: string, served: ResponseOwner): Promise<void> {
    const now = this.clock();
    this.guard(() => this.stmt.put.run(responseId, served.owner, served.provider, now + this.ttlMs));
    if (++this.writes % PRUNE_EVERY === 0) this.guard(() => this.stmt.prune.run(now, PRUNE_CHUNK));
  }

  async get(responseId: string): Promise<ResponseOwner | undefined> {
    const row = this.guard(() => this.stmt.get.get(responseId, this.clock()));
    return row ? { owner: row.owner, provider: row.provider } : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private guard<T>(fn: () => T): T {
    if (this.closed) throw new StoreUnavailableError('response owners store is closed');
    try {
      return fn();
    } catch (error) {
      throw asUnavailable(error);
    }
  }
}
