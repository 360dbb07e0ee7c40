/**
 * The store contract for issue #17 (budgets usable to the last per cent): extensions of held
 * reservations (metered streams), the first-come-first-served wait queues, and the notification
 * when money comes back. Run by runStoreContract for every store.
 */
import { describe, expect, it } from 'vitest';
import { flat, line, prng, type StoreFixture, T0 } from './contract-fixtures.test-helpers.js';
import type { BudgetStore, ExtendRequest, ReserveRequest } from './types.js';

const WAIT = T0 + 30_000;

/** 100 nano of prompt, 5 nano per output token, `cap` tokens (cap 20: 200 nano). */
function chat(id: string, lines: ReserveRequest['lines'], cap: number, nowMs = T0): ReserveRequest {
  return {
    ...flat(id, lines, 0, nowMs),
    fixedPico: 100_000,
    outputPico: 5_000,
    requestedCap: cap,
    minCap: cap,
  };
}

function grow(
  id: string,
  addCap: number,
  minAddCap = addCap,
  nowMs = T0,
  leaseExpiresAtMs = nowMs + 60_000,
): ExtendRequest {
  return { reservationId: id, addCap, minAddCap, nowMs, leaseExpiresAtMs };
}

function waiting(r: ReserveRequest, untilMs = WAIT): ReserveRequest {
  return { ...r, waitUntilMs: untilMs };
}

/** Repeats `act` until `done` holds (a notification crosses a connection), a bounded number of times. */
async function until(done: () => boolean, act: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) {
    await act();
    if (!done()) await new Promise((r) => setTimeout(r, 20));
  }
  expect(done()).toBe(true);
}

export function runUtilizationContract(fixture: () => StoreFixture): void {
  const store = (): BudgetStore => fixture().store;

  describe('extend (metered streams)', () => {
    it('grows the reservation on every line; settle and release apply to the grown amount', async () => {
      const a = line('a');
      const b = line('b', { limitNano: 5000 });
      expect(await store().reserve(chat('s1', [a, b], 20))).toMatchObject({ amountNano: 200 });
      expect(await store().extend(grow('s1', 30))).toEqual({
        status: 'extended',
        grantedAddCap: 30,
        cap: 50,
        amountNano: 350,
        balances: [
          { limitNano: 1000, spentNano: 0, reservedNano: 350 },
          { limitNano: 5000, spentNano: 0, reservedNano: 350 },
        ],
      });
      expect(await store().extend(grow('s1', 10))).toMatchObject({ cap: 60, amountNano: 400 });
      expect(await store().settle('s1', 380)).toMatchObject({ status: 'settled' });
      await store().reserve(chat('s2', [a, b], 20));
      await store().extend(grow('s2', 80));
      expect(await store().release('s2')).toMatchObject({ status: 'settled' });
      expect(await store().balances([a, b])).toEqual([
        { limitNano: 1000, spentNano: 380, reservedNano: 0 },
        { limitNano: 5000, spentNano: 380, reservedNano: 0 },
      ]);
    });

    it('refuses busy, then rejected, all or none across several lines', async () => {
      const [a, b, c] = [line('a', { limitNano: 10_000 }), line('b'), line('c', { limitNano: 10_000 })];
      await store().reserve(chat('s1', [a, b, c], 20));
      await store().reserve(flat('other', [b], 700));
      // b: 100 free now, the 150 asked for fits once `other` settles
      expect(await store().extend(grow('s1', 30))).toMatchObject({ status: 'busy', lineIndex: 1 });
      expect((await store().balances([a, b, c])).map((x) => x.reservedNano)).toEqual([200, 900, 200]);
      await store().settle('other', 700);
      expect(await store().extend(grow('s1', 30))).toMatchObject({ status: 'rejected', lineIndex: 1 });
      expect((await store().balances([a, b, c])).map((x) => x.reservedNano)).toEqual([200, 200, 200]);
      // the last per cent: 100 nano is 20 tokens
      expect(await store().extend(grow('s1', 30, 5))).toMatchObject({
        status: 'extended',
        grantedAddCap: 20,
      });
      expect((await store().balances([a, b, c])).map((x) => x.reservedNano)).toEqual([300, 300, 300]);
    });

    it('renews the lease: a reaper at the old expiry leaves it; reaping settles at the grown amount', async () => {
      const a = line('a');
      await store().reserve({ ...chat('s1', [a], 20), leaseExpiresAtMs: T0 + 1000 });
      expect(await store().extend(grow('s1', 30, 30, T0 + 500, T0 + 5000))).toMatchObject({
        amountNano: 350,
      });
      expect(await store().reapExpired(T0 + 1000)).toBe(0);
      expect(await store().reapExpired(T0 + 4999)).toBe(0);
      expect(await store().reapExpired(T0 + 5000)).toBe(1);
      expect(await store().balances([a])).toEqual([{ limitNano: 1000, spentNano: 350, reservedNano: 0 }]);
    });

    it('a heartbeat (addCap 0) renews the lease and moves no money', async () => {
      const a = line('a');
      await store().reserve({ ...chat('s1', [a], 20), leaseExpiresAtMs: T0 + 1000 });
      expect(await store().extend(grow('s1', 0, 0, T0 + 900, T0 + 9000))).toEqual({
        status: 'extended',
        grantedAddCap: 0,
        cap: 20,
        amountNano: 200,
        balances: [{ limitNano: 1000, spentNano: 0, reservedNano: 200 }],
      });
      expect(await store().reapExpired(T0 + 5000)).toBe(0);
      expect(await store().settle('s1', 150)).toMatchObject({ status: 'settled' });
    });

    it('is unknown for a settled, released, reaped or never made reservation', async () => {
      const a = line('a');
      await store().reserve(chat('settled', [a], 20));
      await store().settle('settled', 100);
      await store().reserve(chat('released', [a], 20));
      await store().release('released');
      await store().reserve({ ...chat('reaped', [a], 20), leaseExpiresAtMs: T0 + 10 });
      expect(await store().reapExpired(T0 + 10)).toBe(1);
      for (const id of ['settled', 'released', 'reaped', 'never']) {
        expect(await store().extend(grow(id, 10))).toEqual({ status: 'unknown' });
        expect(await store().extend(grow(id, 0))).toEqual({ status: 'unknown' });
      }
      expect(await store().balances([a])).toEqual([{ limitNano: 1000, spentNano: 300, reservedNano: 0 }]);
    });

    it('goes before the waiters: a stream already relayed is not made to queue', async () => {
      const a = line('a');
      await store().reserve(chat('stream', [a], 20)); // 200
      await store().reserve(flat('other', [a], 600));
      expect(await store().reserve(waiting(flat('waiter', [a], 500)))).toMatchObject({ status: 'busy' });
      // 200 free: the 150 more fits, although the waiter is owed 500
      expect(await store().extend(grow('stream', 30))).toMatchObject({ status: 'extended', amountNano: 350 });
    });
  });

  describe('wait queue (first come, first served per line)', () => {
    it('a later request is busy behind an earlier waiter even where it would fit; after abandonWait it fits', async () => {
      const a = line('a');
      await store().reserve(flat('holder', [a], 600));
      expect(await store().reserve(waiting(flat('A', [a], 500)))).toMatchObject({
        status: 'busy',
        lineIndex: 0,
      });
      // 400 free, B needs 400, but A (ahead) is owed 500
      expect(await store().reserve(waiting(flat('B', [a], 400, T0 + 1)))).toMatchObject({ status: 'busy' });
      await store().abandonWait('A', [a]);
      await store().abandonWait('A', [a]); // idempotent
      expect(await store().reserve(waiting(flat('B', [a], 400, T0 + 2)))).toMatchObject({
        status: 'reserved',
        amountNano: 400,
      });
    });

    it('a waiter keeps its place across retries and is served before those behind it', async () => {
      const a = line('a');
      await store().reserve(flat('holder', [a], 600));
      expect(await store().reserve(waiting(flat('A', [a], 500)))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(waiting(flat('B', [a], 600, T0 + 1)))).toMatchObject({ status: 'busy' });
      await store().release('holder');
      // B retries first: A, ahead, is owed 500 of the 1000 free
      expect(await store().reserve(waiting(flat('B', [a], 600, T0 + 2)))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(waiting(flat('A', [a], 500, T0 + 3)))).toMatchObject({
        status: 'reserved',
      });
      // A holds 500: B fits once A settles, so busy
      expect(await store().reserve(waiting(flat('B', [a], 600, T0 + 4)))).toMatchObject({ status: 'busy' });
      await store().settle('A', 100);
      expect(await store().reserve(waiting(flat('B', [a], 600, T0 + 5)))).toMatchObject({
        status: 'reserved',
      });
    });

    it('a waiter whose wait ran out does not block', async () => {
      const a = line('a');
      await store().reserve(flat('holder', [a], 600));
      expect(await store().reserve(waiting(flat('A', [a], 500), T0 + 100))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(flat('B', [a], 400, T0 + 99))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(flat('B', [a], 400, T0 + 100))).toMatchObject({ status: 'reserved' });
    });

    it('a request that may not wait is not queued', async () => {
      const a = line('a');
      await store().reserve(flat('holder', [a], 600));
      expect(await store().reserve(flat('A', [a], 500))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(waiting(flat('late', [a], 500), T0))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(flat('B', [a], 400))).toMatchObject({ status: 'reserved' });
    });

    it('an exhausted waiter leaves the queue', async () => {
      const a = line('a');
      await store().reserve(flat('holder', [a], 600));
      expect(await store().reserve(waiting(flat('A', [a], 500)))).toMatchObject({ status: 'busy' });
      await store().settle('holder', 600);
      expect(await store().reserve(waiting(flat('A', [a], 500)))).toMatchObject({ status: 'rejected' });
      expect(await store().reserve(flat('B', [a], 400))).toMatchObject({ status: 'reserved' });
    });

    it('waits only on the lines that were busy, at one place on all of them', async () => {
      const [x, y] = [line('x'), line('y')];
      await store().reserve(flat('hx', [x], 600));
      // A is busy on x only, and queued there
      expect(await store().reserve(waiting(flat('A', [x, y], 500)))).toMatchObject({
        status: 'busy',
        lineIndex: 0,
      });
      expect(await store().reserve(flat('B', [y], 1000, T0 + 1))).toMatchObject({ status: 'reserved' });
      await store().release('B');
      await store().reserve(flat('hy', [y], 600, T0 + 2));
      // C queues on y; A, retrying, is busy on both and queued on y at its first place, ahead of C
      expect(await store().reserve(waiting(flat('C', [y], 500, T0 + 3)))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(waiting(flat('A', [x, y], 500, T0 + 4)))).toMatchObject({
        status: 'busy',
      });
      await store().release('hx');
      await store().release('hy');
      // C is behind A on y: 1000 free, A owed 500, C needs 600
      expect(await store().reserve(waiting(flat('C', [y], 600, T0 + 5)))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(waiting(flat('A', [x, y], 500, T0 + 6)))).toMatchObject({
        status: 'reserved',
      });
    });
  });

  describe('onFreed', () => {
    /**
     * Holders of 600 of line a's 1000 (so A, needing 500, waits), and A queued: every holder
     * released after that frees money on a line someone waits on. The waiter's store may be
     * another instance whose subscription comes up a moment later: releases repeat until heard.
     */
    async function waitOnA(waiterStore: BudgetStore, extra: ReserveRequest[] = []) {
      const a = line('a');
      const holders = Array.from({ length: 40 }, (_, i) => `h${i}`);
      for (const id of holders) await store().reserve(flat(id, [a], 15));
      for (const r of extra) expect(await store().reserve(r)).toMatchObject({ status: 'reserved' });
      expect(await waiterStore.reserve(waiting(flat('A', [a], 500)))).toMatchObject({ status: 'busy' });
      const heard: string[][] = [];
      const off = waiterStore.onFreed((keys) => heard.push(keys));
      const freedA = () => heard.some((k) => k.includes('a|p1'));
      const releaseUntilHeard = () => until(freedA, () => store().release(holders.pop()!));
      await releaseUntilHeard();
      heard.length = 0;
      return { a, heard, freedA, off, releaseUntilHeard };
    }

    it('tells a waiting instance when a settle, a reap or a leaving waiter frees a line it waits on', async () => {
      const waiterStore = fixture().openPeer?.() ?? store();
      const expiring = { ...flat('expiring', [line('a')], 10), leaseExpiresAtMs: T0 + 10 };
      const { a, heard, freedA, off, releaseUntilHeard } = await waitOnA(waiterStore, [expiring]);
      try {
        await releaseUntilHeard();
        heard.length = 0;
        expect(await store().reapExpired(T0 + 10)).toBe(1);
        await until(freedA, async () => {});
        heard.length = 0;
        expect(await waiterStore.reserve(waiting(flat('B', [a], 500, T0 + 1)))).toMatchObject({
          status: 'busy',
        });
        await store().abandonWait('A', [a]);
        await until(freedA, async () => {});
      } finally {
        off();
        if (waiterStore !== store()) await waiterStore.close();
      }
    });

    it('says nothing about lines nobody waits on', async () => {
      const waiterStore = fixture().openPeer?.() ?? store();
      const quiet = line('quiet');
      const { heard, off, releaseUntilHeard } = await waitOnA(waiterStore);
      try {
        await store().reserve(flat('q', [quiet], 100));
        await store().settle('q', 50);
        await store().reserve(flat('q2', [quiet], 100));
        await store().release('q2');
        await store().reserve({ ...flat('q3', [quiet], 100), leaseExpiresAtMs: T0 + 5 });
        expect(await store().reapExpired(T0 + 5)).toBe(1);
        // an answer being relayed holds its next slice there (contract-holds): nobody to wake
        await store().reserve({ ...chat('q4', [quiet], 20), holdCap: 20 });
        await store().reserve(flat('q5', [quiet], 100));
        await store().settle('q5', 50);
        await store().settle('q4', 150);
        // once a later release on `a` is heard, anything said about `quiet` before it was heard too
        await releaseUntilHeard();
        expect(heard.flat().filter((k) => k !== 'a|p1')).toEqual([]);
      } finally {
        off();
        if (waiterStore !== store()) await waiterStore.close();
      }
    });
  });

  describe('extend concurrency', () => {
    it('many parallel extends on one line never commit past the limit', async () => {
      const random = prng(7);
      const peers = [0, 1].map(() => fixture().openPeer?.() ?? store());
      const stores = [store(), ...peers];
      const a = line('a', { limitNano: 50_000 });
      const price = { fixedPico: 10_000, outputPico: 1_000 }; // 10 nano + 1 nano per token
      try {
        const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
        for (const id of ids) {
          await store().reserve({ ...flat(id, [a], 0), ...price, requestedCap: 10, minCap: 10 });
        }
        const calls = Array.from({ length: 400 }, (_, i) => {
          const add = 1 + Math.floor(random() * 400);
          return stores[i % stores.length]!.extend(
            grow(ids[i % ids.length]!, add, Math.floor(add * random())),
          );
        });
        const results = await Promise.all(calls);
        const amounts = new Map(ids.map((id) => [id, 20]));
        results.forEach((r, i) => {
          if (r.status === 'extended') {
            const id = ids[i % ids.length]!;
            amounts.set(id, Math.max(amounts.get(id)!, r.amountNano));
          }
        });
        const total = [...amounts.values()].reduce((s, v) => s + v, 0);
        expect(results.filter((r) => r.status === 'extended').length).toBeGreaterThan(20);
        expect(results.some((r) => r.status === 'busy')).toBe(true);
        expect(total).toBeLessThanOrEqual(50_000);
        expect(await store().balances([a])).toEqual([
          { limitNano: 50_000, spentNano: 0, reservedNano: total },
        ]);
        await Promise.all(ids.map((id) => store().settle(id, amounts.get(id)!)));
        expect(await store().balances([a])).toEqual([
          { limitNano: 50_000, spentNano: total, reservedNano: 0 },
        ]);
      } finally {
        await Promise.all(peers.filter((p) => p !== store()).map((p) => p.close()));
      }
    });
  });
}
