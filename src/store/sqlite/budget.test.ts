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

  it('migrates a reservations table from before extensions: its rows settle, reap and renew', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sqlite-'));
    const path = join(dir, 'budget.db');
    const { default: Database } = await import('better-sqlite3');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE budget_lines (instance TEXT NOT NULL, period TEXT NOT NULL, spent INTEGER NOT NULL DEFAULT 0,
        reserved INTEGER NOT NULL DEFAULT 0, rollover INTEGER NOT NULL DEFAULT 0, topup INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (instance, period)) WITHOUT ROWID;
      CREATE TABLE budget_reservations (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, granted_cap INTEGER NOT NULL,
        lease_expires_at INTEGER NOT NULL, lines TEXT NOT NULL);
      INSERT INTO budget_lines (instance, period, reserved) VALUES ('a', 'p1', 700);
      INSERT INTO budget_reservations VALUES ('old1', 400, 10, 1000, '[["a","p1",1000]]');
      INSERT INTO budget_reservations VALUES ('old2', 300, 10, 1000, '[["a","p1",1000]]');
    `);
    old.close();
    try {
      const store = new SqliteStore({ path });
      const again = new SqliteStore({ path }); // the guard: a second open adds nothing twice
      expect(
        await store.extend({
          reservationId: 'old1',
          addCap: 0,
          minAddCap: 0,
          nowMs: 500,
          leaseExpiresAtMs: 5000,
        }),
      ).toMatchObject({
        status: 'extended',
        amountNano: 400,
      });
      expect(await store.reapExpired(1000)).toBe(1); // old2; old1 was renewed
      expect(await store.settle('old1', 350)).toMatchObject({ status: 'settled' });
      expect(await again.balances([line('a')])).toEqual([
        { limitNano: 1000, spentNano: 650, reservedNano: 0 },
      ]);
      expect(
        await again.reserve({
          ...flat('new', [line('a')], 0),
          fixedPico: 10_000,
          outputPico: 1000,
          requestedCap: 10,
          minCap: 10,
        }),
      ).toMatchObject({ amountNano: 20 });
      expect(
        await again.extend({
          reservationId: 'new',
          addCap: 5,
          minAddCap: 5,
          nowMs: 1,
          leaseExpiresAtMs: 9e12,
        }),
      ).toMatchObject({ amountNano: 25, cap: 15 });
      await store.close();
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
