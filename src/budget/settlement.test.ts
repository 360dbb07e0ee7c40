/**
 * Settlement against the real SQLite store (in memory): the real cost replaces the reservation,
 * threshold events fire once per period across instances, leases of dead processes are reaped, and
 * settles that meet a store outage are retried.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/budget.js';
import { closeAll, FlakyStore, granted, NOON, setup, spent, track, usage } from './engine.test-helpers.js';
import { budget, config, identity, request } from './fixtures.test-helpers.js';

afterEach(closeAll);

describe('settling, alerts and periods', () => {
  it('fires a threshold alert exactly once across many concurrent settles and two instances', async () => {
    const cfg = config({
      budgets: [budget({ id: 'shared', limitUsd: 1, thresholds: [{ at: 0.5 }, { at: 0.7 }] })],
    });
    const store = track(new SqliteStore({ path: ':memory:' }));
    const one = setup(cfg, { store });
    const two = setup(cfg, { store });
    const engines = [one.engine, two.engine];
    const admissions = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engines[i % 2]!.admit(request(cfg, { promptTokens: 8000, requestedCap: 1, model: 'gpt-4o' })),
      ),
    );
    await Promise.all(
      admissions.map((a, i) => {
        const g = granted(a);
        return engines[i % 2]!.settle(g.reservation, g.servedModel, usage(8000, 0));
      }),
    );
    const events = [...one.events, ...two.events];
    expect(events.filter((e) => e.type === 'threshold' && e.at === 0.5)).toHaveLength(1);
    expect(events.filter((e) => e.type === 'threshold' && e.at === 0.7)).toHaveLength(1);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ budgetId: 'shared', instance: 'shared', period: '2026-11' });
  });

  it('settles a reservation made before a period reset into its own period', async () => {
    const cfg = config({
      budgets: [budget({ id: 'daily', limitUsd: 1, period: 'daily', timezone: 'Asia/Tokyo' })],
    });
    const { engine, setNow } = setup(cfg);
    const beforeMidnight = Date.parse('2026-11-28T14:59:59Z'); // 23:59:59 in Tokyo
    const afterMidnight = beforeMidnight + 2000;
    setNow(beforeMidnight);
    const a = granted(await engine.admit(request(cfg, { nowMs: beforeMidnight, requestedCap: 100 })));
    expect(a.reservation?.lines[0]?.period).toBe('2026-11-28');
    setNow(afterMidnight);
    await engine.settle(a.reservation, a.servedModel, usage(1000, 100));
    expect((await spent(engine, identity(), beforeMidnight)).daily).toEqual({
      spent: 3_500_000,
      reserved: 0,
    });
    expect((await spent(engine, identity(), afterMidnight)).daily).toEqual({ spent: 0, reserved: 0 });
    const b = granted(await engine.admit(request(cfg, { nowMs: afterMidnight, requestedCap: 100 })));
    expect(b.reservation?.lines[0]?.period).toBe('2026-11-29');
  });

  it('releases a reservation and settles expired leases through the reaper', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })], leaseMs: 1000 });
    const { engine, counts, setNow } = setup(cfg);
    const a = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    await engine.release(a.reservation);
    expect((await spent(engine)).b).toEqual({ spent: 0, reserved: 0 });
    const lost = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    setNow(NOON + 5000);
    expect(await engine.reapNow()).toBe(1);
    expect(counts.expired).toBe(1);
    expect((await spent(engine)).b).toEqual({ spent: lost.estimateNano, reserved: 0 });
    // A late settle of a reaped reservation changes nothing.
    await engine.settle(lost.reservation, lost.servedModel, usage(1, 1));
    expect((await spent(engine)).b?.spent).toBe(lost.estimateNano);
  });
});

describe('store outages after admission', () => {
  it('settles reservations made before an outage once the store is back', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const flaky = new FlakyStore(track(new SqliteStore({ path: ':memory:' })));
    const { engine, counts } = setup(cfg, { store: flaky });
    const a = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    const b = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    flaky.down = true;
    const outcome = await engine.settle(a.reservation, a.servedModel, usage(1000, 50));
    expect(outcome.costNano).toBe(3_000_000);
    await engine.release(b.reservation);
    expect(counts.retriesQueued).toEqual(['settle', 'release']);
    // Retrying while the store is still down keeps both queued.
    expect(await engine.flushRetries()).toBe(2);
    flaky.down = false;
    expect(await engine.flushRetries()).toBe(0);
    expect((await spent(engine)).b).toEqual({ spent: 3_000_000, reserved: 0 });
  });
});
