/**
 * SQLite history in its own file: a new installation writes no history into the budget file; an
 * installation from before the split keeps reading (and writing) the history its budget file holds;
 * history.path puts it anywhere.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, requestRecord } from '../../../test/analytics/fixtures.js';
import { ledgerEntryOf, rollupsOf } from '../../analytics/records.js';
import type { RuntimeHistoryStore, RuntimeStore } from '../../config/runtime.js';
import { closeStores, createStores } from '../index.js';
import { SqliteHistoryStore } from './history.js';
import { holdsHistory, sqliteHistoryPath } from './history-path.js';

const dir = mkdtempSync(join(tmpdir(), 'llmgw-histpath-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RETENTION = { rollupMs: 1e12, ledgerMs: 1e12 };
const sqlite = (path: string): RuntimeStore => ({
  type: 'sqlite',
  path,
  url: undefined,
  clusterNodes: undefined,
  prefix: 'x',
  timeoutMs: 500,
  onUnavailable: 'reject',
});
const same = (path?: string): { store: RuntimeHistoryStore } => ({
  store: { type: 'same', url: undefined, path },
});

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((t) => t.name);
  } finally {
    db.close();
  }
}

describe('sqlite history file', () => {
  it('defaults to <stem>-history.db beside the budget file, which then holds no history', async () => {
    const path = join(dir, 'new', 'gateway.db');
    expect(sqliteHistoryPath(path, undefined)).toBe(join(dir, 'new', 'gateway-history.db'));
    const stores = createStores({ store: sqlite(path), history: same() });
    try {
      const entry = ledgerEntryOf(requestRecord());
      await stores.history.write(rollupsOf([entry]), [entry], RETENTION);
      await stores.budget.balances([]);
    } finally {
      await closeStores(stores);
    }
    expect(tables(path)).not.toContain('request_ledger');
    expect(tables(path)).not.toContain('usage_hourly');
    expect(holdsHistory(join(dir, 'new', 'gateway-history.db'))).toBe(true);
  });

  it('an existing budget file with history rows stays the history file', async () => {
    const path = join(dir, 'old.db');
    const legacy = new SqliteHistoryStore({ path });
    const entry = ledgerEntryOf(requestRecord());
    await legacy.write(rollupsOf([entry]), [entry], RETENTION);
    await legacy.close();
    expect(sqliteHistoryPath(path, undefined)).toBe(path);
    const stores = createStores({ store: sqlite(path), history: same() });
    try {
      expect((await collect(stores.history.ledger(0, Date.UTC(2100, 0)))).map((e) => e.requestId)).toEqual([
        entry.requestId,
      ]);
    } finally {
      await closeStores(stores);
    }
    expect(existsSync(join(dir, 'old-history.db'))).toBe(false);
  });

  it('history.path wins; :memory: stays in memory', () => {
    expect(sqliteHistoryPath(join(dir, 'old.db'), join(dir, 'elsewhere.db'))).toBe(join(dir, 'elsewhere.db'));
    expect(sqliteHistoryPath(':memory:', undefined)).toBe(':memory:');
    expect(sqliteHistoryPath(join(dir, 'budgets'), undefined)).toBe(join(dir, 'budgets-history.db'));
  });
});
