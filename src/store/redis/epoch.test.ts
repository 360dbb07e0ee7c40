/**
 * The deployment epoch ([hardening] 14.1) against a real redis-server: an emptied prefix is a
 * reset for every instance, settles of reservations made before it are announced as lost, claims
 * are refused rather than won again, and only recover() ends it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../../test/helpers/redis.js';
import { flat, line } from '../contract.test-helpers.js';
import { type StoreEvent, StoreResetError } from '../types.js';
import { RedisStore } from './budget.js';

let redis: StartedRedis;
let raw: Redis;
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.close();
});

/** What an empty restart does to one deployment: every key of its prefix gone. */
async function wipe(prefix: string): Promise<void> {
  const keys = await raw.keys(`{${prefix}}*`);
  if (keys.length > 0) await raw.del(...keys);
}

function storeOn(prefix: string): { store: RedisStore; events: StoreEvent[] } {
  const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
  const events: StoreEvent[] = [];
  store.onStoreEvent((event) => events.push(event));
  return { store, events };
}

describe('redis deployment epoch', () => {
  it('an emptied Redis fails every instance closed until recover(); lost settles are announced', async () => {
    const prefix = `epoch-${randomUUID()}`;
    const a = storeOn(prefix);
    const b = storeOn(prefix);
    const budget = line('global', { limitNano: 1000 });
    try {
      expect(await a.store.prepare()).toEqual([expect.stringContaining('appendonly no')]);
      await b.store.prepare();
      expect(await a.store.reserve(flat('held', [budget], 600))).toMatchObject({ status: 'reserved' });
      await wipe(prefix);

      await expect(a.store.reserve(flat('r2', [budget], 600))).rejects.toBeInstanceOf(StoreResetError);
      // The marker the first script set stops the other instance too, before it reserves anything.
      await expect(b.store.reserve(flat('r3', [budget], 600))).rejects.toBeInstanceOf(StoreResetError);
      await expect(b.store.claimOnce('global', 'p1', 'exhausted', 60, Date.now())).rejects.toBeInstanceOf(
        StoreResetError,
      );
      await expect(b.store.balances([budget])).rejects.toBeInstanceOf(StoreResetError);
      expect(a.store.resetState()).toMatchObject({ reason: 'the epoch key is missing' });
      expect(b.store.resetState()).toBeDefined();
      // Nothing was written on the emptied Redis but the epoch's marker.
      expect(await raw.keys(`{${prefix}}*`)).toEqual([`{${prefix}}:epoch:reset`]);

      // The settle of the reservation made before the reset cannot land: said, not silent.
      expect(await a.store.settle('held', 500)).toEqual({ status: 'unknown' });
      expect(a.events).toContainEqual({
        type: 'settle_lost',
        reservationId: 'held',
        reservedNano: 600,
        actualNano: 500,
      });

      expect(await a.store.recover()).toMatchObject({ status: 'recovered' });
      expect(a.store.resetState()).toBeUndefined();
      // The other instance adopts the recovered epoch on its next call.
      expect(await b.store.reserve(flat('r4', [budget], 600))).toMatchObject({ status: 'reserved' });
      expect(b.store.resetState()).toBeUndefined();
      expect(b.events.map((e) => e.type).filter((t) => t !== 'clock_skew')).toEqual(['reset', 'recovered']);
      expect(await b.store.recover()).toMatchObject({ status: 'not_reset' });
    } finally {
      await Promise.all([a.store.close(), b.store.close()]);
    }
  });

  it('an instance started on the emptied Redis before anyone saw the reset is stopped by one that knew', async () => {
    const prefix = `epoch-${randomUUID()}`;
    const old = storeOn(prefix);
    const budget = line('global', { limitNano: 1000 });
    await old.store.prepare();
    await old.store.reserve(flat('r1', [budget], 900));
    await wipe(prefix);
    // A new instance cannot tell an emptied Redis from a fresh deployment: it initialises.
    const fresh = storeOn(prefix);
    try {
      await fresh.store.prepare();
      expect(fresh.store.resetState()).toBeUndefined();
      // The instance that knew the old epoch sees a new one nobody recovered to: it marks the reset.
      await expect(old.store.reserve(flat('r2', [budget], 900))).rejects.toBeInstanceOf(StoreResetError);
      expect(old.store.resetState()?.reason).toMatch(/re-created/);
      await expect(fresh.store.reserve(flat('r3', [budget], 900))).rejects.toBeInstanceOf(StoreResetError);
      // A third instance starting now starts in the reset state.
      const late = storeOn(prefix);
      await late.store.prepare();
      expect(late.store.resetState()).toBeDefined();
      await late.store.close();
    } finally {
      await Promise.all([old.store.close(), fresh.store.close()]);
    }
  });
});
