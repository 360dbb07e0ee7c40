import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flat, line, runStoreContract } from '../contract.test-helpers.js';
import { StoreUnavailableError } from '../types.js';
import { SqliteStore } from './budget.js';

runStoreContract('sqlite :memory:', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

runStoreContract('sqlite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-sqlite-'));
  const path = join(dir, 'nested', 'budget.db');
  const store = new SqliteStore({ path });
  return {
    store,
    // another gateway on the same file (in this process, so it hears this one's settles)
    openPeer: () => new SqliteStore({ path }),
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store specifics', () => {
  it('keeps its counters across a reopen (durable)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sqlite-'));
    const path = join(dir, 'budget.db');
    try {
      const first = new SqliteStore({ path });
      await first.reserve(flat('r1', [line('a')], 400));
      await first.close();
      const second = new SqliteStore({ path });
      expect(await second.settle('r1', 300)).toMatchObject({ status: 'settled' });
      expect(await second.balances([line('a')])).toEqual([
        { limitNano: 1000, spentNano: 300, reservedNano: 0 },
      ]);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws StoreUnavailableError when another connection holds the write lock past the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sqlite-'));
    const path = join(dir, 'budget.db');
    const store = new SqliteStore({ path, timeoutMs: 200 });
    const { default: Database } = await import('better-sqlite3');
    const blocker = new Database(path);
    try {
      blocker.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      await expect(store.reserve(flat('r1', [line('a')], 1))).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(Date.now() - started).toBeLessThan(2000);
      blocker.exec('ROLLBACK');
      expect(await store.reserve(flat('r1', [line('a')], 1))).toMatchObject({ status: 'reserved' });
    } finally {
      blocker.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws StoreUnavailableError once closed', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.close();
    await expect(store.balances([line('a')])).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await store.ping()).toBe(false);
  });
});
