import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../../test/helpers/redis.js';
import { flat, line, runStoreContract } from '../contract.test-helpers.js';
import { RedisStore } from './budget.js';

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

/** A store on its own prefix, so tests sharing the server never see each other's keys. */
function makeStore(prefix = `t-${randomUUID()}`): RedisStore {
  return new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
}

runStoreContract('redis', async () => {
  const prefix = `t-${randomUUID()}`;
  const store = makeStore(prefix);
  // another gateway instance: its own connections to the same prefix
  return { store, openPeer: () => makeStore(prefix), cleanup: () => store.close() };
});

describe('redis store specifics', () => {
  it('two stores (two gateway instances) racing on one line never overcommit', async () => {
    const prefix = `t-${randomUUID()}`;
    const stores = [makeStore(prefix), makeStore(prefix), makeStore(prefix)];
    try {
      const a = line('a', { limitNano: 10_000 });
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => stores[i % 3]!.reserve(flat(`r${i}`, [a], 100))),
      );
      expect(results.filter((r) => r.status === 'reserved')).toHaveLength(100);
      await Promise.all(results.map((_, i) => stores[(i + 1) % 3]!.settle(`r${i}`, 100)));
      expect(await stores[0]!.balances([a])).toEqual([
        { limitNano: 10_000, spentNano: 10_000, reservedNano: 0 },
      ]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('keeps every key under the {prefix} hash tag and sets TTLs from ttlSeconds', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = makeStore(prefix);
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url);
    try {
      const a = line('per-user|user=alice', { budgetId: 'per-user', ttlSeconds: 3600 });
      await store.reserve(flat('r1', [a, line('global')], 10));
      await store.claimOnce('global', 'p1', 'alert', 60, Date.now());
      const keys = (await raw.keys(`{${prefix}}*`)).sort();
      expect(keys).toEqual(
        [
          `{${prefix}}:claim:global:p1:alert`,
          `{${prefix}}:inst:per-user:p1`,
          `{${prefix}}:leases`,
          `{${prefix}}:line:global:p1`,
          `{${prefix}}:line:per-user|user=alice:p1`,
          `{${prefix}}:res:r1`,
        ].sort(),
      );
      expect(await raw.ttl(`{${prefix}}:line:per-user|user=alice:p1`)).toBeGreaterThan(3500);
      expect(await raw.ttl(`{${prefix}}:inst:per-user:p1`)).toBeGreaterThan(3500);
      expect(await raw.ttl(`{${prefix}}:line:global:p1`)).toBe(-1);
      expect(await raw.ttl(`{${prefix}}:claim:global:p1:alert`)).toBeGreaterThan(50);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const store = makeStore();
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url);
    try {
      await store.reserve(flat('r1', [line('a')], 10));
      await raw.script('FLUSH');
      expect(await store.reserve(flat('r2', [line('a')], 10))).toMatchObject({ status: 'reserved' });
      expect(await store.settle('r1', 5)).toMatchObject({ status: 'settled' });
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});
