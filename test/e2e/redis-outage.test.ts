import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flat, line } from '../../src/store/contract.test-helpers.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';

const TIMEOUT_MS = 300;

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with how long the call took to reject, asserting it rejected with StoreUnavailableError. */
async function rejectsUnavailable(call: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await expect(call()).rejects.toBeInstanceOf(StoreUnavailableError);
  return Date.now() - started;
}

describe('redis store during an outage', () => {
  let redis: StartedRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('fails fast while Redis is down and works again, with the same object, once it is back', async () => {
    const store = new RedisStore({ url: redis.url, prefix: `t-${randomUUID()}`, timeoutMs: TIMEOUT_MS });
    const a = line('a');
    try {
      expect(await store.reserve(flat('before', [a], 300))).toMatchObject({ status: 'reserved' });

      await redis.stop();
      const calls: Array<() => Promise<unknown>> = [
        () => store.reserve(flat('during', [a], 100)),
        () => store.settle('before', 100),
        () => store.balances([a]),
        () => store.reapExpired(0),
        () => store.claimOnce('a', 'p1', 'x', 0, 0),
        () => store.instances('a', 'p1'),
      ];
      const took = await Promise.all(calls.map(rejectsUnavailable));
      for (const ms of took) expect(ms).toBeLessThan(TIMEOUT_MS + 250);
      expect(await store.ping()).toBe(false);

      await redis.restart();
      await until(() => store.ping());
      // the reservation made before the outage settles after it
      expect(await store.settle('before', 250)).toMatchObject({
        status: 'settled',
        balances: [{ limitNano: 1000, spentNano: 250, reservedNano: 0 }],
      });
      expect(await store.reserve(flat('after', [a], 100))).toMatchObject({ status: 'reserved' });
    } finally {
      await store.close();
    }
  });

  it('rejects within the timeout when Redis accepts the connection but does not answer', async () => {
    const store = new RedisStore({ url: redis.url, prefix: `t-${randomUUID()}`, timeoutMs: TIMEOUT_MS });
    const admin = new Redis(redis.url);
    try {
      await until(() => store.ping());
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      const took = await rejectsUnavailable(() => store.reserve(flat('paused', [line('a')], 1)));
      expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(took).toBeLessThan(TIMEOUT_MS + 250);
      await admin.call('CLIENT', 'UNPAUSE');
      await until(() => store.ping());
      expect(await store.balances([line('a')])).toHaveLength(1);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('recovers after the server was killed outright (data lost, store object still usable)', async () => {
    const store = new RedisStore({ url: redis.url, prefix: `t-${randomUUID()}`, timeoutMs: TIMEOUT_MS });
    try {
      await until(() => store.ping());
      redis.kill();
      await rejectsUnavailable(() => store.balances([line('a')]));
      await redis.restart();
      await until(() => store.ping());
      expect(await store.reserve(flat('r', [line('a')], 1))).toMatchObject({ status: 'reserved' });
    } finally {
      await store.close();
    }
  });

  it('a store created while Redis is unreachable fails fast, then connects on its own', async () => {
    await redis.stop();
    const store = new RedisStore({ url: redis.url, prefix: `t-${randomUUID()}`, timeoutMs: TIMEOUT_MS });
    try {
      const took = await rejectsUnavailable(() => store.balances([line('a')]));
      expect(took).toBeLessThan(TIMEOUT_MS + 250);
      await redis.restart();
      await until(() => store.ping());
      expect(await store.balances([line('a')])).toEqual([{ limitNano: 1000, spentNano: 0, reservedNano: 0 }]);
    } finally {
      await store.close();
    }
  });
});
