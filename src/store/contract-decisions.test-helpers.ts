/**
 * The shared decision tables (budget/reserve-decision.cases.test-helpers.ts) run against a store:
 * each case's starting point is built through the store's own operations, then the store decides.
 * The pure decision answers the same tables in budget/reserve-decision.test.ts.
 */
import { assert, describe, expect, it } from 'vitest';
import {
  DECISION_CASES,
  type DecisionCase,
  EXTEND_CASES,
  type ExtendCase,
} from '../budget/reserve-decision.cases.test-helpers.js';
import { amountFor, type ReserveDecision } from '../budget/reserve-decision.js';
import { flat, line, T0 } from './contract-fixtures.test-helpers.js';
import type { BudgetStore, ExtendResult, LineSpec } from './types.js';

const BEFORE = T0 - 10_000;

/** Queues a waiter needing `nano` on `spec` (waiting until `untilMs`): a holder makes it busy, then leaves. */
async function queueWaiter(store: BudgetStore, spec: LineSpec, id: string, nano: number, untilMs: number) {
  const holder = `holder-${id}`;
  expect(await store.reserve(flat(holder, [spec], spec.limitNano, BEFORE))).toMatchObject({
    status: 'reserved',
  });
  const waiter = { ...flat(id, [spec], nano, BEFORE), waitUntilMs: untilMs };
  expect(await store.reserve(waiter)).toMatchObject({ status: 'busy' });
  expect(await store.release(holder)).toMatchObject({ status: 'settled' });
}

/** Brings a fresh store to a case's starting point, then reserves: the store's decision. */
async function storeDecision(
  store: BudgetStore,
  c: DecisionCase,
): Promise<{ decision: ReserveDecision; expiredSettled: number }> {
  const specs = c.lines.map((l, i) => line(`d${i}`, { limitNano: l.limitNano }));
  for (const [i, l] of c.lines.entries()) {
    const spec = specs[i]!;
    // Waiters first: queued at BEFORE, they are ahead of everything after (the setup amounts leave room).
    if (l.owedNano) await queueWaiter(store, spec, `owed-${i}`, l.owedNano, T0 + 60_000);
    if (l.staleWaitNano) await queueWaiter(store, spec, `stale-${i}`, l.staleWaitNano, T0 - 1);
    if (l.expiredNano) {
      const held = flat(`expired-${i}`, [spec], l.expiredNano, BEFORE);
      expect(await store.reserve({ ...held, leaseExpiresAtMs: T0 - 1 })).toMatchObject({
        status: 'reserved',
      });
    }
    if (l.reservedNano) {
      expect(await store.reserve(flat(`held-${i}`, [spec], l.reservedNano, BEFORE))).toMatchObject({
        status: 'reserved',
      });
    }
    if (l.spentNano) {
      expect(await store.reserve(flat(`spent-${i}`, [spec], 0, BEFORE))).toMatchObject({
        status: 'reserved',
      });
      expect(await store.settle(`spent-${i}`, l.spentNano)).toMatchObject({ status: 'settled' });
    }
  }
  const lines = specs.map((spec, i) => ({ ...spec, downgradeAtNano: c.lines[i]!.downgradeAtNano ?? -1 }));
  const r = await store.reserve({ ...flat('decide', lines, 0), ...c.price });
  const decision: ReserveDecision =
    r.status === 'reserved'
      ? { status: r.status, grantedCap: r.grantedCap, amountNano: r.amountNano }
      : r.status === 'limited'
        ? assert.fail('no limits in a decision case')
        : { status: r.status, lineIndex: r.lineIndex };
  return { decision, expiredSettled: r.expiredSettled };
}

/** Holds the case's reservation on every line, adds the others' spend and holds, then extends. */
async function storeExtension(store: BudgetStore, c: ExtendCase): Promise<ExtendResult> {
  const specs = c.lines.map((l, i) => line(`e${i}`, { limitNano: l.limitNano }));
  const held = await store.reserve({
    ...flat('held', specs, 0, BEFORE),
    ...c.held,
    requestedCap: c.held.cap,
    minCap: c.held.cap,
  });
  expect(held).toMatchObject({ status: 'reserved', grantedCap: c.held.cap });
  for (const [i, l] of c.lines.entries()) {
    if (l.spentNano) {
      await store.reserve(flat(`spent-${i}`, [specs[i]!], 0, BEFORE));
      expect(await store.settle(`spent-${i}`, l.spentNano)).toMatchObject({ status: 'settled' });
    }
    if (l.othersNano) {
      expect(await store.reserve(flat(`others-${i}`, [specs[i]!], l.othersNano, BEFORE))).toMatchObject({
        status: 'reserved',
      });
    }
  }
  return store.extend({
    reservationId: 'held',
    addCap: c.addCap,
    minAddCap: c.minAddCap,
    nowMs: T0,
    leaseExpiresAtMs: T0 + 60_000,
  });
}

export function runDecisionContract(store: () => BudgetStore): void {
  describe('reserve decisions (the table the pure decision answers too)', () => {
    it.each(DECISION_CASES)('$name', async (c) => {
      const { decision, expiredSettled } = await storeDecision(store(), c);
      expect(decision).toEqual(c.expected);
      expect(expiredSettled).toBe(c.lines.filter((l) => l.expiredNano).length);
    });
  });

  describe('extend decisions (the table the pure decision answers too)', () => {
    it.each(EXTEND_CASES)('$name', async (c) => {
      const r = await storeExtension(store(), c);
      const heldNano = amountFor(c.held.fixedPico, c.held.outputPico, c.held.cap);
      if (c.expected.status !== 'extended') {
        expect(r).toMatchObject(c.expected);
        // all or none: no line moved
        if (r.status === 'unknown') throw new Error('unreachable');
        expect(r.balances.map((b) => b.reservedNano)).toEqual(
          c.lines.map((l) => (l.othersNano ?? 0) + heldNano),
        );
        return;
      }
      const cap = c.held.cap + c.expected.grantedAddCap;
      const amountNano = amountFor(c.held.fixedPico, c.held.outputPico, cap);
      expect(r).toMatchObject({ ...c.expected, cap, amountNano });
      // the new amount is held on every line, besides the others' holds
      if (r.status !== 'extended') throw new Error('unreachable');
      expect(r.balances.map((b) => b.reservedNano)).toEqual(
        c.lines.map((l) => (l.othersNano ?? 0) + amountNano),
      );
    });
  });
}
