/**
 * The lease renewal half of the store contract (renewLeases: the heartbeat of src/budget/leases.ts,
 * redis/lua/renew.lua, one SQLite transaction): both stores run it (leases.contract.test.ts). Times
 * are on an injected clock (nowMs) and leases are read back through reaping, the only thing they
 * decide.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flat, line, type StoreFixture } from './contract.test-helpers.js';
import { LEASE, T0 } from './contract-fixtures.test-helpers.js';
import type { BudgetStore } from './types.js';

export function runLeaseContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name}: lease renewal contract`, () => {
    let fixture: StoreFixture;
    let store: BudgetStore;
    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('moves each lease to the new expiry: reaping waits for it', async () => {
      const a = line('a');
      await store.reserve(flat('r1', [a], 100));
      await store.reserve(flat('r2', [a], 200));
      expect(await store.renewLeases(['r1', 'r2'], T0 + 1000, T0 + 1000 + LEASE)).toEqual([]);
      // The first lease has passed, the renewed one has not.
      expect(await store.reapExpired(T0 + LEASE)).toBe(0);
      expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 300 }]);
      expect(await store.reapExpired(T0 + 1000 + LEASE)).toBe(2);
      expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 300, reservedNano: 0 }]);
    });

    it('reports the ids that are gone, in request order, and never brings them back', async () => {
      const a = line('a');
      for (const [id, nano] of [
        ['settled', 10],
        ['live', 20],
        ['released', 40],
        ['reaped', 80],
      ] as const) {
        await store.reserve({
          ...flat(id, [a], nano),
          leaseExpiresAtMs: T0 + (id === 'reaped' ? 10 : LEASE),
        });
      }
      await store.settle('settled', 5);
      await store.release('released');
      expect(await store.reapExpired(T0 + 10)).toBe(1);
      const ids = ['reaped', 'live', 'never-made', 'settled', 'released'];
      expect(await store.renewLeases(ids, T0 + 20, T0 + 20 + LEASE)).toEqual([
        'reaped',
        'never-made',
        'settled',
        'released',
      ]);
      // Nothing was resurrected: only the live one holds money, and only it is reaped later.
      expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 85, reservedNano: 20 }]);
      expect(await store.reapExpired(T0 + 20 + LEASE)).toBe(1);
      expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 105, reservedNano: 0 }]);
    });

    it('renews a lease that expired but was not reaped yet (nobody settled it)', async () => {
      const a = line('a');
      await store.reserve(flat('r1', [a], 100));
      expect(await store.renewLeases(['r1'], T0 + 2 * LEASE, T0 + 3 * LEASE)).toEqual([]);
      expect(await store.reapExpired(T0 + 2 * LEASE)).toBe(0);
      expect(await store.settle('r1', 30)).toMatchObject({ status: 'settled' });
      expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 30, reservedNano: 0 }]);
    });

    it('an empty list is a no-op', async () => {
      expect(await store.renewLeases([], T0, T0 + LEASE)).toEqual([]);
    });

    it("one instance renews what another reserved (the store holds no owner), and a renewal races a peer's reaping safely", async () => {
      if (!fixture.openPeer)
        throw new Error('the lease contract needs a store with a peer (a file, a prefix)');
      const peer = fixture.openPeer();
      try {
        const a = line('a');
        await store.reserve(flat('r1', [a], 100));
        await store.reserve(flat('r2', [a], 100));
        // The peer reaps with a clock past both leases while this instance renews r1 at once: each
        // reservation is either renewed (and still held) or reaped (and reported gone), never both.
        const [gone, reaped] = await Promise.all([
          store.renewLeases(['r1', 'r2'], T0 + 1, T0 + 1 + LEASE),
          peer.reapExpired(T0 + LEASE),
        ]);
        const [balance] = await store.balances([a]);
        expect(gone.length).toBe(reaped);
        expect(balance).toEqual({
          limitNano: 1000,
          spentNano: 100 * reaped,
          reservedNano: 100 * (2 - reaped),
        });
      } finally {
        await peer.close();
      }
    });
  });
}
