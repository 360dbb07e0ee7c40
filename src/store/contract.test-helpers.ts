/**
 * The one contract both budget stores pass (run by sqlite/budget.test.ts, redis/budget.test.ts and
 * test/e2e/redis-cluster-store.test.ts). Every test gets a fresh, empty store from makeStore.
 * Money figures are small integers so expected values can be read off by hand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDecisionContract } from './contract-decisions.test-helpers.js';
import { flat, line, prng, reservedAmount, type StoreFixture, T0 } from './contract-fixtures.test-helpers.js';
import { runHoldsContract } from './contract-holds.test-helpers.js';
import { runUtilizationContract } from './contract-utilization.test-helpers.js';
import type { BudgetStore, LineSpec } from './types.js';

export { flat, line, type StoreFixture } from './contract-fixtures.test-helpers.js';

export function runStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name}: budget store contract`, () => {
    let fixture: StoreFixture;
    let store: BudgetStore;
    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('reserve', () => {
      it('reserves the full cap when every line affords it', async () => {
        const a = line('a');
        const r = await store.reserve({
          ...flat('r1', [a], 0),
          fixedPico: 100_000, // 100 nano
          outputPico: 5_000, // 5 nano per token
          requestedCap: 100,
          minCap: 1,
        });
        expect(r).toEqual({
          status: 'reserved',
          grantedCap: 100,
          amountNano: 600,
          balances: [{ limitNano: 1000, spentNano: 0, reservedNano: 600 }],
          expiredSettled: 0,
        });
      });

      it('rounds the amount up to the next nano', async () => {
        const r = await store.reserve({
          ...flat('r1', [line('a')], 0),
          fixedPico: 1001,
          outputPico: 3,
          requestedCap: 1,
        });
        expect(reservedAmount(r)).toBe(2);
      });

      it('is all or nothing: one short line leaves every line untouched', async () => {
        const a = line('a', { limitNano: 10_000 });
        const b = line('b', { limitNano: 500 });
        const c = line('c', { limitNano: 10_000 });
        const r = await store.reserve(flat('r1', [a, b, c], 600));
        expect(r).toMatchObject({ status: 'rejected', lineIndex: 1 });
        expect(await store.balances([a, b, c])).toEqual([
          { limitNano: 10_000, spentNano: 0, reservedNano: 0 },
          { limitNano: 500, spentNano: 0, reservedNano: 0 },
          { limitNano: 10_000, spentNano: 0, reservedNano: 0 },
        ]);
        expect(reservedAmount(await store.reserve(flat('r2', [a, b, c], 500)))).toBe(500);
        expect((await store.balances([a, b, c])).map((x) => x.reservedNano)).toEqual([500, 500, 500]);
      });

      it('fits the output cap to the tightest line', async () => {
        const wide = line('wide', { limitNano: 1_000_000 });
        const tight = line('tight', { limitNano: 1000 });
        const r = await store.reserve({
          ...flat('r1', [wide, tight], 0),
          fixedPico: 100_000, // 100 nano
          outputPico: 10_000, // 10 nano per token
          requestedCap: 100, // would cost 1100
          minCap: 10,
        });
        expect(r).toMatchObject({ status: 'reserved', grantedCap: 90, amountNano: 1000 });
        expect((await store.balances([wide, tight])).map((x) => x.reservedNano)).toEqual([1000, 1000]);
      });

      it('rejects when even minCap does not fit, at the first failing line', async () => {
        const a = line('a', { limitNano: 1000 });
        const base = {
          ...flat('r1', [line('big', { limitNano: 1e9 }), a], 0),
          fixedPico: 100_000,
          outputPico: 10_000,
        };
        expect(await store.reserve({ ...base, requestedCap: 100, minCap: 91 })).toMatchObject({
          status: 'rejected',
          lineIndex: 1,
        });
        expect(
          await store.reserve({ ...base, reservationId: 'r2', requestedCap: 100, minCap: 90 }),
        ).toMatchObject({
          status: 'reserved',
          grantedCap: 90,
        });
      });

      it('rejects a request without output (embeddings) whose fixed cost does not fit', async () => {
        const a = line('a', { limitNano: 100 });
        const base = {
          ...flat('r1', [a], 0),
          fixedPico: 100_001,
          outputPico: 20_000,
          requestedCap: 0,
          minCap: 0,
        };
        expect(await store.reserve(base)).toMatchObject({ status: 'rejected', lineIndex: 0 });
        expect(await store.reserve({ ...base, fixedPico: 100_000 })).toMatchObject({
          status: 'reserved',
          amountNano: 100,
        });
      });

      it('answers downgrade at or past the threshold and writes nothing', async () => {
        const a = line('a', { limitNano: 1000, downgradeAtNano: 500 });
        const b = line('b', { limitNano: 100 });
        expect(reservedAmount(await store.reserve(flat('r1', [a], 400)))).toBe(400);
        expect(reservedAmount(await store.reserve(flat('r2', [a], 100)))).toBe(100);
        // committed (reserved 500) reached the threshold; b would reject, but downgrade wins
        expect(await store.reserve(flat('r3', [b, a], 200))).toMatchObject({
          status: 'downgrade',
          lineIndex: 1,
        });
        expect((await store.balances([a, b])).map((x) => x.reservedNano)).toEqual([500, 0]);
        // a line without a threshold never downgrades
        expect(reservedAmount(await store.reserve(flat('r4', [line('a')], 100)))).toBe(100);
      });

      it('retried with the same reservation id answers the same without reserving twice', async () => {
        const a = line('a');
        const req = {
          ...flat('r1', [a], 0),
          fixedPico: 10_000,
          outputPico: 1_000,
          requestedCap: 100,
          minCap: 0,
        };
        const first = await store.reserve(req);
        const again = await store.reserve(req);
        expect(first).toMatchObject({ status: 'reserved', amountNano: 110, grantedCap: 100 });
        expect(again).toMatchObject({ status: 'reserved', amountNano: 110, grantedCap: 100 });
        expect((await store.balances([a]))[0]?.reservedNano).toBe(110);
        expect(await store.settle('r1', 50)).toMatchObject({ status: 'settled' });
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 50, reservedNano: 0 }]);
      });

      it('keeps large nano amounts exact (10k USD limits, spends above 2^32)', async () => {
        const a = line('a', { limitNano: 10_000_000_000_000 });
        const r = await store.reserve({
          ...flat('r1', [a], 0),
          fixedPico: 3_000_000_123_457, // ~3 USD of prompt
          outputPico: 15_000_000, // $15 / M tokens
          requestedCap: 64_000,
          minCap: 0,
        });
        expect(r).toMatchObject({ status: 'reserved', grantedCap: 64_000, amountNano: 3_960_000_124 });
        await store.settle('r1', 4_000_000_000_123);
        expect(await store.balances([a])).toEqual([
          { limitNano: 10_000_000_000_000, spentNano: 4_000_000_000_123, reservedNano: 0 },
        ]);
        const r2 = await store.reserve({
          ...flat('r2', [a], 0),
          fixedPico: 1_000,
          outputPico: 1_000_000_000_000, // 1 USD per token
          requestedCap: 1_000_000,
          minCap: 0,
        });
        // 5_999_999_999_877 nano left, minus 1 nano of prompt: 5999 whole tokens
        expect(r2).toMatchObject({ status: 'reserved', grantedCap: 5999, amountNano: 5_999_000_000_001 });
      });
    });

    runDecisionContract(() => store);
    runUtilizationContract(() => fixture);
    runHoldsContract(() => fixture);

    describe('settle and release', () => {
      it('replaces the reservation by the actual cost, under or over it', async () => {
        const a = line('a');
        const b = line('b', { limitNano: 5000 });
        await store.reserve(flat('under', [a, b], 300));
        await store.reserve(flat('over', [a, b], 100));
        expect(await store.settle('under', 120)).toEqual({
          status: 'settled',
          balances: [
            { limitNano: 1000, spentNano: 120, reservedNano: 100 },
            { limitNano: 5000, spentNano: 120, reservedNano: 100 },
          ],
          spentBeforeNano: [0, 0],
        });
        // the client's output ran past what was reserved: spent simply goes over
        expect(await store.settle('over', 2000)).toEqual({
          status: 'settled',
          balances: [
            { limitNano: 1000, spentNano: 2120, reservedNano: 0 },
            { limitNano: 5000, spentNano: 2120, reservedNano: 0 },
          ],
          spentBeforeNano: [120, 120],
        });
        expect(await store.reserve(flat('next', [a], 1))).toMatchObject({ status: 'rejected', lineIndex: 0 });
      });

      it('settles once: a second settle or release is unknown', async () => {
        const a = line('a');
        await store.reserve(flat('r1', [a], 300));
        expect((await store.settle('r1', 200)).status).toBe('settled');
        expect(await store.settle('r1', 200)).toEqual({ status: 'unknown' });
        expect(await store.release('r1')).toEqual({ status: 'unknown' });
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 200, reservedNano: 0 }]);
        expect(await store.settle('never-reserved', 5)).toEqual({ status: 'unknown' });
      });

      it('releases without spending, once', async () => {
        const a = line('a');
        await store.reserve(flat('r1', [a], 300));
        expect(await store.release('r1')).toMatchObject({
          status: 'settled',
          balances: [{ limitNano: 1000, spentNano: 0, reservedNano: 0 }],
        });
        expect(await store.release('r1')).toEqual({ status: 'unknown' });
        expect(await store.settle('r1', 300)).toEqual({ status: 'unknown' });
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 0 }]);
      });

      it('counts concurrent settles and releases of one reservation once', async () => {
        const a = line('a');
        await store.reserve(flat('r1', [a], 300));
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store.settle('r1', 250) : store.release('r1'))),
        );
        expect(results.filter((r) => r.status === 'settled')).toHaveLength(1);
        const [balance] = await store.balances([a]);
        expect(balance?.reservedNano).toBe(0);
        expect([0, 250]).toContain(balance?.spentNano);
      });
    });

    describe('leases', () => {
      it('reapExpired settles expired reservations at their amount; a late settle is unknown', async () => {
        const a = line('a');
        await store.reserve({ ...flat('old', [a], 300), leaseExpiresAtMs: T0 + 1000 });
        await store.reserve({ ...flat('young', [a], 200), leaseExpiresAtMs: T0 + 5000 });
        expect(await store.reapExpired(T0 + 999)).toBe(0);
        expect(await store.reapExpired(T0 + 1000)).toBe(1);
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 300, reservedNano: 200 }]);
        expect(await store.settle('old', 10)).toEqual({ status: 'unknown' });
        expect(await store.reapExpired(T0 + 1_000_000)).toBe(1);
        expect(await store.reapExpired(T0 + 1_000_000)).toBe(0);
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 500, reservedNano: 0 }]);
      });

      it('reserve reaps expired leases first, and counts them', async () => {
        const a = line('a');
        const b = line('b');
        await store.reserve({ ...flat('old', [a], 700), leaseExpiresAtMs: T0 + 1000 });
        // without reaping, a would only have 300 left; reaping does not free it (it settles at 700)
        const r = await store.reserve(flat('new', [b], 100, T0 + 2000));
        expect(r).toMatchObject({ status: 'reserved', expiredSettled: 1 });
        expect(await store.balances([a])).toEqual([{ limitNano: 1000, spentNano: 700, reservedNano: 0 }]);
        expect(await store.settle('old', 1)).toEqual({ status: 'unknown' });
      });

      it('reaps many expired leases in one reapExpired call', async () => {
        const a = line('a', { limitNano: 100_000 });
        for (let i = 0; i < 40; i++) {
          await store.reserve({ ...flat(`r${i}`, [a], 10, T0 - 1000), leaseExpiresAtMs: T0 + i });
        }
        expect(await store.reapExpired(T0 + 100)).toBe(40);
        expect(await store.balances([a])).toEqual([{ limitNano: 100_000, spentNano: 400, reservedNano: 0 }]);
      });
    });

    describe('periods, rollover, top-ups, reset', () => {
      const prev = (overrides: Partial<LineSpec> = {}) => line('r', { period: 'p0', ...overrides });
      const next = (overrides: Partial<LineSpec> = {}) =>
        line('r', { period: 'p1', previousPeriod: 'p0', rolloverMaxNano: 500, ...overrides });

      it('reads an untouched period as its limit with nothing spent', async () => {
        expect(await store.balances([line('fresh', { limitNano: 777 })])).toEqual([
          { limitNano: 777, spentNano: 0, reservedNano: 0 },
        ]);
        expect(await store.balances([])).toEqual([]);
      });

      it('carries unused budget into the next period, capped', async () => {
        await store.reserve(flat('a', [prev()], 300));
        await store.settle('a', 300);
        // unused 700, cap 500
        expect(await store.balances([next()])).toEqual([{ limitNano: 1500, spentNano: 0, reservedNano: 0 }]);
        expect(await store.balances([next({ rolloverMaxNano: 1000 })])).toEqual([
          { limitNano: 1700, spentNano: 0, reservedNano: 0 },
        ]);
        // no rollover configured
        expect(await store.balances([next({ rolloverMaxNano: 0 })])).toEqual([
          { limitNano: 1000, spentNano: 0, reservedNano: 0 },
        ]);
      });

      it('counts in-flight reservations and overspend of the previous period, never below zero', async () => {
        await store.reserve(flat('a', [prev()], 600));
        expect(await store.balances([next()])).toEqual([{ limitNano: 1400, spentNano: 0, reservedNano: 0 }]);
        await store.settle('a', 1500);
        expect(await store.balances([next()])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 0 }]);
      });

      it('fixes the rollover on the first touch only', async () => {
        await store.reserve(flat('a', [prev()], 100));
        await store.reserve(flat('late', [prev()], 400));
        await store.settle('a', 100);
        // untouched: computed on every read, nothing written
        expect((await store.balances([next()]))[0]?.limitNano).toBe(1500);
        // first touch: unused 1000 - 100 - 400 = 500
        expect(await store.reserve(flat('b', [next()], 50))).toMatchObject({
          status: 'reserved',
          balances: [{ limitNano: 1500, spentNano: 0, reservedNano: 50 }],
        });
        // a late settle lands in the period it reserved in; the new period's rollover stays
        await store.settle('late', 900);
        expect(await store.balances([prev(), next()])).toEqual([
          { limitNano: 1000, spentNano: 1000, reservedNano: 0 },
          { limitNano: 1500, spentNano: 0, reservedNano: 50 },
        ]);
      });

      it('includes the previous period rollover and top-ups in its unused budget', async () => {
        await store.topUp(prev(), 200);
        await store.reserve(flat('a', [prev()], 1100));
        await store.settle('a', 1100);
        // 1000 + 200 - 1100 = 100
        expect((await store.balances([next()]))[0]?.limitNano).toBe(1100);
      });

      it('top-ups raise the effective limit', async () => {
        const a = line('a');
        expect(await store.topUp(a, 500)).toEqual({ limitNano: 1500, spentNano: 0, reservedNano: 0 });
        expect(reservedAmount(await store.reserve(flat('r1', [a], 1400)))).toBe(1400);
        expect(await store.topUp(a, 100)).toEqual({ limitNano: 1600, spentNano: 0, reservedNano: 1400 });
        expect(await store.balances([a])).toEqual([{ limitNano: 1600, spentNano: 0, reservedNano: 1400 }]);
      });

      it('reset zeroes spent, rollover and top-ups, and keeps reservations in flight', async () => {
        await store.reserve(flat('old', [prev()], 100));
        await store.settle('old', 100);
        const r = next();
        await store.topUp(r, 300);
        expect((await store.balances([r]))[0]?.limitNano).toBe(1800);
        await store.reserve(flat('a', [r], 400));
        await store.settle('a', 400);
        await store.reserve(flat('b', [r], 250));
        expect(await store.reset(r)).toEqual({ limitNano: 1000, spentNano: 0, reservedNano: 250 });
        await store.settle('b', 200);
        expect(await store.balances([r])).toEqual([{ limitNano: 1000, spentNano: 200, reservedNano: 0 }]);
      });

      it('carries nothing from a previous period that was never touched', async () => {
        expect(await store.balances([next()])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 0 }]);
        expect(await store.reserve(flat('a', [next()], 100))).toMatchObject({
          status: 'reserved',
          balances: [{ limitNano: 1000, spentNano: 0, reservedNano: 100 }],
        });
      });

      it('reset of an untouched period gives it no rollover', async () => {
        expect(await store.reset(next())).toEqual({ limitNano: 1000, spentNano: 0, reservedNano: 0 });
        expect(await store.balances([next()])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 0 }]);
      });

      it('keeps periods apart', async () => {
        await store.reserve(flat('a', [line('x', { period: 'd1' })], 600));
        expect(reservedAmount(await store.reserve(flat('b', [line('x', { period: 'd2' })], 1000)))).toBe(
          1000,
        );
      });
    });

    describe('claims and instances', () => {
      it('claimOnce has exactly one winner among many concurrent callers', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.claimOnce('a', 'p1', 'threshold-0.8', 3600, T0)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.claimOnce('a', 'p1', 'threshold-0.5', 3600, T0)).toBe(true);
        expect(await store.claimOnce('a', 'p2', 'threshold-0.8', 3600, T0)).toBe(true);
        expect(await store.claimOnce('b', 'p1', 'threshold-0.8', 0, T0)).toBe(true);
        expect(await store.claimOnce('b', 'p1', 'threshold-0.8', 0, T0)).toBe(false);
        // no TTL: never won again, however late
        expect(await store.claimOnce('b', 'p1', 'threshold-0.8', 0, T0 + 1e12)).toBe(false);
      });

      it('claimOnce can be won again once its TTL has passed by the clock it is given', async () => {
        expect(await store.claimOnce('a', 'p1', 'x', 1, T0)).toBe(true);
        expect(await store.claimOnce('a', 'p1', 'x', 1, T0 + 999)).toBe(false);
        expect(await store.claimOnce('a', 'p1', 'x', 1, T0 + 1000)).toBe(true);
        expect(await store.claimOnce('a', 'p1', 'x', 1, T0 + 1999)).toBe(false);
      });

      it('records the template instances a budget saw in a period', async () => {
        const alice = line('per-user|user=alice', { budgetId: 'per-user' });
        const bob = line('per-user|user=bob', { budgetId: 'per-user' });
        const global = line('global', { limitNano: 1e9 });
        await store.reserve(flat('r1', [alice, global], 10));
        await store.reserve(flat('r2', [bob, global], 10));
        await store.reserve(flat('r3', [alice, global], 10));
        await store.reserve(
          flat('r4', [line('per-user|user=carol', { budgetId: 'per-user', period: 'p2' })], 10),
        );
        expect(await store.instances('per-user', 'p1')).toEqual(['per-user|user=alice', 'per-user|user=bob']);
        expect(await store.instances('per-user', 'p2')).toEqual(['per-user|user=carol']);
        expect(await store.instances('global', 'p1')).toEqual([]);
        expect(await store.instances('nobody', 'p1')).toEqual([]);
      });
    });

    describe('concurrency', () => {
      it('200 concurrent reserves never commit more than the limit; settles return reserved to 0', async () => {
        const random = prng(42);
        const small = line('small', { limitNano: 200_000 });
        const shared = line('shared', { limitNano: 10_000_000 });
        const requests = Array.from({ length: 200 }, (_, i) => {
          const requestedCap = Math.floor(random() * 2000);
          return {
            ...flat(`c${i}`, i % 3 === 0 ? [shared] : [shared, small], 0),
            fixedPico: Math.floor(random() * 5_000_000), // up to 5000 nano
            outputPico: 1000 + Math.floor(random() * 10_000), // 1..11 nano per token
            requestedCap,
            minCap: Math.floor(requestedCap * random() * 0.5),
          };
        });
        const results = await Promise.all(requests.map((r) => store.reserve(r)));
        const granted = results.flatMap((r, i) =>
          r.status === 'reserved'
            ? [{ id: requests[i]!.reservationId, amount: r.amountNano, req: requests[i]! }]
            : [],
        );
        expect(granted.length).toBeGreaterThan(10);
        // nothing is spent, so whoever does not fit now fits once the others settle: busy
        expect(results.some((r) => r.status === 'busy')).toBe(true);
        expect(results.every((r) => r.status === 'reserved' || r.status === 'busy')).toBe(true);
        const onSmall = granted.filter((g) => g.req.lines.length === 2).reduce((s, g) => s + g.amount, 0);
        const onShared = granted.reduce((s, g) => s + g.amount, 0);
        expect(onSmall).toBeLessThanOrEqual(200_000);
        expect(await store.balances([small, shared])).toEqual([
          { limitNano: 200_000, spentNano: 0, reservedNano: onSmall },
          { limitNano: 10_000_000, spentNano: 0, reservedNano: onShared },
        ]);

        const actuals = granted.map((g) => Math.floor(random() * (g.amount + 1)));
        const settled = await Promise.all(granted.map((g, i) => store.settle(g.id, actuals[i]!)));
        expect(settled.every((s) => s.status === 'settled')).toBe(true);
        const spentSmall = granted.reduce((s, g, i) => s + (g.req.lines.length === 2 ? actuals[i]! : 0), 0);
        const [smallAfter, sharedAfter] = await store.balances([small, shared]);
        expect(smallAfter).toEqual({ limitNano: 200_000, spentNano: spentSmall, reservedNano: 0 });
        expect(smallAfter!.spentNano).toBeLessThanOrEqual(200_000);
        expect(sharedAfter).toEqual({
          limitNano: 10_000_000,
          spentNano: actuals.reduce((s, a) => s + a, 0),
          reservedNano: 0,
        });
      });
    });

    it('answers ping', async () => {
      expect(await store.ping()).toBe(true);
    });
  });
}
