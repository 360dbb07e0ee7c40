/**
 * The store contract for holds (issue #17, "no needless truncation"): a metered answer being relayed
 * is owed room for its next slice at the head of its lines' wait queues, so requests admitted after
 * it leave that room, and money coming back goes to a busy extension before a new request.
 * Run by runStoreContract for every store.
 */
import { describe, expect, it } from 'vitest';
import { flat, LEASE, line, type StoreFixture, T0 } from './contract-fixtures.test-helpers.js';
import type { BudgetStore, ExtendRequest, ReserveRequest } from './types.js';

const HOLD_UNTIL = T0 + 2000;

/** 100 nano of prompt, 5 nano per output token, `cap` tokens, holding `holdCap` more (5 each). */
function stream(id: string, lines: ReserveRequest['lines'], cap: number, holdCap: number): ReserveRequest {
  return {
    ...flat(id, lines, 0),
    fixedPico: 100_000,
    outputPico: 5_000,
    requestedCap: cap,
    minCap: cap,
    holdCap,
  };
}

function grow(id: string, addCap: number, minAddCap: number, nextHoldCap: number, nowMs = T0): ExtendRequest {
  return {
    reservationId: id,
    addCap,
    minAddCap,
    nowMs,
    leaseExpiresAtMs: nowMs + LEASE,
    holdUntilMs: HOLD_UNTIL,
    nextHoldCap,
  };
}

export function runHoldsContract(fixture: () => StoreFixture): void {
  const store = (): BudgetStore => fixture().store;

  describe('holds (room for answers being relayed)', () => {
    it('a metered reservation is owed its next slice: later requests leave it until it settles', async () => {
      const a = line('a');
      // 200 reserved, 100 more owed (20 tokens x 5)
      expect(await store().reserve(stream('s', [a], 20, 20))).toMatchObject({
        status: 'reserved',
        amountNano: 200,
      });
      // 800 free, 100 of it owed to s
      expect(await store().reserve(flat('B', [a], 750))).toMatchObject({ status: 'busy', lineIndex: 0 });
      expect(await store().reserve(flat('C', [a], 700))).toMatchObject({ status: 'reserved' });
      await store().release('C');
      // the extension takes the owed slice (it goes before waiters) and is owed the next one
      expect(await store().extend(grow('s', 20, 20, 20))).toMatchObject({
        status: 'extended',
        amountNano: 300,
      });
      expect(await store().reserve(flat('B', [a], 650))).toMatchObject({ status: 'busy' });
      // the last slice (no next one): nothing owed any more
      expect(await store().extend(grow('s', 20, 20, 0))).toMatchObject({
        status: 'extended',
        amountNano: 400,
      });
      expect(await store().reserve(flat('B', [a], 600))).toMatchObject({ status: 'reserved' });
      await store().release('B');
      await store().reserve(stream('t', [a], 20, 20));
      await store().settle('t', 150);
      // settled: its hold went with it (400 spent by s's reservation + 150; 450 free, none owed)
      expect(await store().reserve(flat('D', [a], 450))).toMatchObject({ status: 'reserved' });
      expect(await store().balances([a])).toEqual([{ limitNano: 1000, spentNano: 150, reservedNano: 850 }]);
    });

    it('a grant lowered to what is left is owed nothing more (the engine caps it upstream at its hold)', async () => {
      const [tight, roomy] = [line('tight'), line('roomy')];
      await store().reserve(flat('spent', [tight], 750));
      await store().settle('spent', 750);
      // 250 left on tight: 100 tokens asked (600), the most that fits is 30 (250); roomy has plenty
      expect(await store().reserve({ ...stream('s', [tight, roomy], 100, 20), minCap: 20 })).toMatchObject({
        status: 'reserved',
        grantedCap: 30,
        amountNano: 250,
      });
      // 750 free on roomy and nothing owed there (a hold would owe 100 and make this busy)
      expect(await store().reserve(flat('B', [roomy], 750))).toMatchObject({ status: 'reserved' });
    });

    it('a busy extension is owed its least addition: money coming back goes to it, not to a new request', async () => {
      const a = line('a');
      await store().reserve(stream('s', [a], 20, 0)); // 200
      await store().reserve(flat('other', [a], 800));
      // wants 40 more (200), would take 20 (100): busy, and owed those 100 until HOLD_UNTIL
      expect(await store().extend(grow('s', 40, 20, 0))).toMatchObject({ status: 'busy', lineIndex: 0 });
      await store().release('other');
      expect(await store().reserve(flat('B', [a], 750))).toMatchObject({ status: 'busy' });
      expect(await store().extend(grow('s', 40, 20, 0))).toMatchObject({
        status: 'extended',
        amountNano: 400,
      });
      // extended without a next slice: nothing owed
      expect(await store().reserve(flat('B', [a], 600))).toMatchObject({ status: 'reserved' });
    });

    it('a hold lapses at its time: a stream gone without a settle blocks nobody after it', async () => {
      const a = line('a');
      await store().reserve(stream('s', [a], 20, 0)); // 200
      await store().reserve(flat('other', [a], 800));
      expect(await store().extend(grow('s', 40, 20, 0))).toMatchObject({ status: 'busy' });
      await store().release('other');
      expect(await store().reserve(flat('B', [a], 750, HOLD_UNTIL - 1))).toMatchObject({ status: 'busy' });
      expect(await store().reserve(flat('B', [a], 750, HOLD_UNTIL))).toMatchObject({ status: 'reserved' });
    });

    it('a hold ends when the extension is refused for good (the money was spent)', async () => {
      const a = line('a');
      await store().reserve(stream('s', [a], 20, 0)); // 200
      await store().reserve(flat('other', [a], 800));
      expect(await store().extend(grow('s', 40, 20, 0))).toMatchObject({ status: 'busy' });
      await store().settle('other', 750);
      // 50 free, owed 100 to s: E is busy behind it
      expect(await store().reserve(flat('E', [a], 50))).toMatchObject({ status: 'busy' });
      // 250 unspent cannot pay s's least addition (300 in all): rejected, and owed nothing
      expect(await store().extend(grow('s', 40, 20, 0))).toMatchObject({ status: 'rejected' });
      expect(await store().reserve(flat('E', [a], 50))).toMatchObject({ status: 'reserved' });
    });
  });
}
