/**
 * The lease heartbeat (issue #14) on the real SQLite store, with an injected clock and fake timers:
 * two engines on one store are two gateway instances; closing one stops its heartbeat as a SIGKILL
 * would (nothing settles). The real-process version is test/e2e/lease-heartbeat.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RuntimeConfig } from '../config/runtime.js';
import { flat, line } from '../store/contract-fixtures.test-helpers.js';
import { SqliteStore } from '../store/sqlite/budget.js';
import type { BudgetStore } from '../store/types.js';
import { createBudgetEngine, type ManagedBudgetEngine } from './engine.js';
import { FlakyStore, granted, NOON, spent, usage } from './engine.test-helpers.js';
import type { LeaseRenewalResult } from './engine-types.js';
import { budget, config, identity, request } from './fixtures.test-helpers.js';
import { LeaseKeeper, RENEW_BATCH } from './leases.js';

const LEASE = 15_000;
const RENEW = 5000;

let now = NOON;
const closers: Array<() => Promise<void>> = [];

beforeEach(() => {
  vi.useFakeTimers();
  now = NOON;
});
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
  vi.useRealTimers();
});

function cfgOf(overrides: { maxHoldMs?: number } = {}): RuntimeConfig {
  return config({
    budgets: [budget({ id: 'b', limitUsd: 1 })],
    leaseMs: LEASE,
    renewEveryMs: RENEW,
    sliceTokens: 64,
    ...overrides,
  });
}

/** One gateway instance on `store`; the clock is the test's. */
function instance(cfg: RuntimeConfig, store: BudgetStore) {
  const renewals: Partial<Record<LeaseRenewalResult, number>> = {};
  const engine = createBudgetEngine({
    config: () => cfg,
    store,
    clock: () => now,
    reapIntervalMs: 0,
    metrics: { onLeaseRenewal: (result, n) => (renewals[result] = (renewals[result] ?? 0) + n) },
  });
  closers.push(() => engine.close());
  return { engine, renewals };
}

function sqlite(): SqliteStore {
  const store = new SqliteStore({ path: ':memory:' });
  closers.push(() => store.close());
  return store;
}

/** Moves the injected clock and the fake timers together, so timers run at the time they see. */
async function advance(ms: number, step = 1000): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    now += step;
    await vi.advanceTimersByTimeAsync(step);
  }
}

/** Line b's counters as the store holds them. */
async function held(engine: ManagedBudgetEngine) {
  return (await spent(engine, identity(), now)).b;
}

describe('lease heartbeat', () => {
  it('keeps a live request through many lease lengths, and a dead instance loses its hold one lease later', async () => {
    const cfg = cfgOf();
    const store = sqlite();
    const live = instance(cfg, store);
    const dead = instance(cfg, store);
    const a = granted(await live.engine.admit(request(cfg, { requestedCap: 100, nowMs: now })));
    const b = granted(await dead.engine.admit(request(cfg, { requestedCap: 100, nowMs: now })));
    const bothHeld = a.estimateNano + b.estimateNano;
    expect(await held(live.engine)).toEqual({ spent: 0, reserved: bothHeld });
    await dead.engine.close(); // SIGKILL: no settle, no more renewals

    // Five lease lengths, the reaper of the live instance running every second of it.
    let reaped = 0;
    for (let t = 0; t < 5 * LEASE; t += 1000) {
      await advance(1000);
      reaped += await live.engine.reapNow();
    }
    expect(reaped).toBe(1);
    expect(await held(live.engine)).toEqual({ spent: b.estimateNano, reserved: a.estimateNano });
    // Renewed every 5 s for 75 s, never gone or failed.
    expect(live.renewals).toEqual({ renewed: 15 });

    // The live request ends normally and is charged its real cost, not the reaped worst case.
    const outcome = await live.engine.settle(a.reservation, a.servedModel, usage(1000, 10));
    expect(await held(live.engine)).toEqual({ spent: b.estimateNano + outcome.costNano, reserved: 0 });
  });

  it('the dead instance reservation comes back within a lease and one renewal interval', async () => {
    const cfg = cfgOf();
    const store = sqlite();
    const live = instance(cfg, store);
    const dead = instance(cfg, store);
    granted(await dead.engine.admit(request(cfg, { requestedCap: 100, nowMs: now })));
    await advance(RENEW); // one renewal by the doomed instance: its lease now ends at +20 s
    expect(dead.renewals).toEqual({ renewed: 1 });
    await dead.engine.close();
    const killedAt = now;
    let back: number | undefined;
    while (back === undefined && now < killedAt + 4 * LEASE) {
      await advance(1000);
      if ((await live.engine.reapNow()) > 0) back = now - killedAt;
    }
    // The renewal at +5 s moved its expiry to +20 s: it comes back one lease after that renewal.
    expect(back).toBeGreaterThan(LEASE - RENEW);
    expect(back).toBeLessThanOrEqual(LEASE);
  });

  it('renews all of an instance reservations in one store call per interval, and stops when none is left', async () => {
    const cfg = cfgOf();
    const inner = sqlite();
    const calls: string[][] = [];
    const store = Object.create(inner) as BudgetStore;
    store.renewLeases = (ids, n, exp) => {
      calls.push(ids);
      return inner.renewLeases(ids, n, exp);
    };
    const { engine } = instance(cfg, store);
    const grants = [];
    for (let i = 0; i < 3; i++)
      grants.push(granted(await engine.admit(request(cfg, { requestedCap: 10, nowMs: now }))));
    await advance(RENEW);
    expect(calls).toEqual([grants.map((g) => g.reservation!.id)]);
    for (const g of grants) await engine.release(g.reservation);
    await advance(3 * RENEW);
    expect(calls).toHaveLength(1);
  });

  it('a renewal that finds the reservation reaped marks it lost: its stream asks for nothing more', async () => {
    // A 1 s hold: the live instance stops renewing it, another reaps it, the stream learns of it.
    const cfg = cfgOf();
    const store = sqlite();
    const a = instance(cfg, store);
    const grant = granted(
      await a.engine.admit(request(cfg, { requestedCap: 1000, metered: true, stream: true, nowMs: now })),
    );
    expect(grant.meter).toBeDefined();
    // Another instance reaps it as if its lease had lapsed (a partition the other side of which
    // kept the store): the store now holds nothing for it.
    expect(await store.reapExpired(now + 10 * LEASE)).toBe(1);
    const pass = await a.engine.renewLeases();
    expect(pass).toEqual({ renewed: 0, gone: 1, failed: 0, lapsed: 0, overdue: 0 });
    const spy = vi.spyOn(store, 'extend');
    expect(await a.engine.extend(grant, 64, 1)).toEqual({ status: 'gone' });
    expect(spy).not.toHaveBeenCalled();
    expect(a.renewals).toEqual({ gone: 1 });
  });

  it('store down: renewals fail and are counted; once a lease passed without one, as lapsed', async () => {
    const cfg = cfgOf();
    const inner = sqlite();
    await inner.reserve({ ...flat('r1', [line('a')], 10, now), leaseExpiresAtMs: now + LEASE });
    const flaky = new FlakyStore(inner);
    const keeper = new LeaseKeeper({
      store: flaky,
      config: () => cfg,
      clock: () => now,
      metrics: {},
    });
    closers.push(async () => keeper.close());
    keeper.hold('r1', now, now + LEASE);
    flaky.down = true;
    await advance(RENEW);
    expect(await keeper.renewNow()).toEqual({ renewed: 0, gone: 0, failed: 1, lapsed: 0, overdue: 0 });
    expect(keeper.mayHaveLapsed('r1', now)).toBe(false);
    await advance(LEASE - RENEW);
    expect(keeper.mayHaveLapsed('r1', now)).toBe(true);
    expect(await keeper.renewNow()).toEqual({ renewed: 0, gone: 0, failed: 0, lapsed: 1, overdue: 0 });
    // Back: renewed (nobody reaped it meanwhile), and no longer at risk.
    flaky.down = false;
    expect(await keeper.renewNow()).toMatchObject({ renewed: 1 });
    expect(keeper.mayHaveLapsed('r1', now)).toBe(false);
  });

  it('stops renewing a hold past request_timeout_ms + lease_margin_ms (a settle that never came)', async () => {
    const cfg = cfgOf({ maxHoldMs: 3 * RENEW - 1 });
    const store = sqlite();
    const { engine, renewals } = instance(cfg, store);
    granted(await engine.admit(request(cfg, { requestedCap: 100, nowMs: now })));
    await advance(4 * RENEW);
    expect(renewals).toEqual({ renewed: 2, overdue: 1 });
    expect(await store.reapExpired(now + LEASE)).toBe(1);
  });

  it('splits a very busy instance into batches of RENEW_BATCH ids', async () => {
    const cfg = cfgOf();
    const sizes: number[] = [];
    const keeper = new LeaseKeeper({
      store: {
        renewLeases: async (ids) => {
          sizes.push(ids.length);
          return [];
        },
      },
      config: () => cfg,
      clock: () => now,
      metrics: {},
    });
    closers.push(async () => keeper.close());
    for (let i = 0; i < RENEW_BATCH + 5; i++) keeper.hold(`r${i}`, now, now + LEASE);
    expect(await keeper.renewNow()).toMatchObject({ renewed: RENEW_BATCH + 5 });
    expect(sizes).toEqual([RENEW_BATCH, 5]);
  });
});
