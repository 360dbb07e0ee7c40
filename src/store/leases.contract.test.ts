import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../test/helpers/redis.js';
import { flat } from './contract.test-helpers.js';
import { T0 } from './contract-fixtures.test-helpers.js';
import { runLeaseContract } from './leases.contract.test-helpers.js';
import { RedisStore } from './redis/budget.js';
import { SqliteStore } from './sqlite/budget.js';

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

runLeaseContract('sqlite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-leases-'));
  const path = join(dir, 'budget.db');
  const store = new SqliteStore({ path });
  return {
    store,
    openPeer: () => new SqliteStore({ path }),
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runLeaseContract('redis', async () => {
  const prefix = `t-${randomUUID()}`;
  const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
  return {
    store,
    openPeer: () => new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 }),
    cleanup: () => store.close(),
  };
});

describe('redis lease renewal specifics', () => {
  it('keeps the limit hash of a held concurrency slot alive as long as the renewed lease', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
    const raw = new Redis(redis.url);
    try {
      const limit = {
        limitId: 'c',
        instance: 'c|key=k1',
        requestsPerMinute: 0,
        tokensPerMinute: 0,
        concurrentRequests: 1,
      };
      // A real clock: the limit hash's TTL is a real Redis expiry.
      const now = Date.now();
      await store.reserve({ ...flat('r1', [], 0, now), leaseExpiresAtMs: now + 1000, limits: [limit] });
      const key = `{${prefix}}:lim:${limit.instance}`;
      const before = await raw.pttl(key);
      expect(before).toBeLessThanOrEqual(1000 + 61_000);
      // Renewed for ten minutes: the slot's hash must not expire under the live request.
      expect(await store.renewLeases(['r1'], now, now + 600_000)).toEqual([]);
      expect(await raw.pttl(key)).toBeGreaterThan(600_000);
      expect(await raw.hget(key, 'f')).toBe('1');
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('renews a thousand reservations in one script call', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
    try {
      const ids = Array.from({ length: 1000 }, (_, i) => `r${i}`);
      await Promise.all(ids.map((id) => store.reserve(flat(id, [], 0))));
      expect(await store.renewLeases(ids, T0 + 1, T0 + 10 * 60_000)).toEqual([]);
      expect(await store.reapExpired(T0 + 60_000)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
