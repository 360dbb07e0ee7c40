import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../../test/helpers/redis.js';
import { flat, line, runStoreContract } from '../contract.test-helpers.js';
import { T0 } from '../contract-fixtures.test-helpers.js';
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
          `{${prefix}}:epoch`,
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

  it('keeps the wait queues under the {prefix} hash tag, with the line TTL', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = makeStore(prefix);
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url);
    try {
      const a = line('a', { ttlSeconds: 3600 });
      await store.reserve(flat('holder', [a], 600));
      const waiter = { ...flat('w', [a], 500), waitUntilMs: T0 + 60_000 };
      expect(await store.reserve(waiter)).toMatchObject({ status: 'busy' });
      for (const key of [`{${prefix}}:wait:a:p1`, `{${prefix}}:waitn:a:p1`]) {
        expect(await raw.exists(key)).toBe(1);
        expect(await raw.ttl(key)).toBeGreaterThan(3500);
      }
      await store.abandonWait('w', [a]);
      expect(await raw.exists(`{${prefix}}:wait:a:p1`)).toBe(0);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('publishes nothing on the freed channel when nobody waits', async () => {
    const prefix = `t-${randomUUID()}`;
    const store = makeStore(prefix);
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url);
    const channel = `{${prefix}}:freed`;
    try {
      const messages: string[] = [];
      raw.on('message', (_c: string, m: string) => messages.push(m));
      await raw.subscribe(channel);
      const a = line('a');
      await store.reserve(flat('r1', [a], 100));
      await store.settle('r1', 50);
      await store.reserve({ ...flat('r2', [a], 100), leaseExpiresAtMs: 1 });
      expect(await store.reapExpired(2)).toBe(1);
      const publisher = new Redis(redis.url);
      await publisher.publish(channel, 'marker');
      publisher.disconnect();
      // one connection delivers in order: had a script published, it would come before the marker
      for (let i = 0; i < 100 && messages.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(messages).toEqual(['marker']);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('costs one round trip (one script call) per operation', async () => {
    const store = makeStore();
    const { Redis } = await import('ioredis');
    const raw = new Redis(redis.url);
    const scriptCalls = async () => {
      const info = await raw.info('commandstats');
      return ['evalsha', 'eval'].reduce((n, cmd) => {
        const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info);
        return n + (m ? Number(m[1]) : 0);
      }, 0);
    };
    try {
      const lines = ['key', 'team', 'user', 'global'].map((id) => line(id, { limitNano: 1e12 }));
      const ops: Array<[string, (i: number) => Promise<unknown>]> = [
        [
          'reserve',
          (i) =>
            store.reserve({
              ...flat(`r${i}`, lines, 0),
              fixedPico: 1e6,
              outputPico: 1e4,
              requestedCap: 64,
              minCap: 64,
            }),
        ],
        [
          'extend',
          (i) =>
            store.extend({
              reservationId: `r${i}`,
              addCap: 64,
              minAddCap: 16,
              nowMs: 1,
              leaseExpiresAtMs: 1e15,
            }),
        ],
        [
          'heartbeat',
          (i) =>
            store.extend({
              reservationId: `r${i}`,
              addCap: 0,
              minAddCap: 0,
              nowMs: 1,
              leaseExpiresAtMs: 1e15,
            }),
        ],
        ['abandonWait', (i) => store.abandonWait(`r${i}`, lines)],
        ['settle', (i) => store.settle(`r${i}`, 100)],
      ];
      await ops[0]![1](-1); // loads the scripts
      for (const [, op] of ops.slice(1)) await op(-1);
      for (const [name, op] of ops) {
        const before = await scriptCalls();
        await op(0);
        expect({ name, calls: (await scriptCalls()) - before }).toEqual({ name, calls: 1 });
      }
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('a listener hears "anything may have changed" after the subscriber reconnects, then messages again', async () => {
    const prefix = `t-${randomUUID()}`;
    const waiterStore = makeStore(prefix);
    const store = makeStore(prefix);
    try {
      const heard: string[][] = [];
      waiterStore.onFreed((keys) => heard.push(keys));
      const until = async (done: () => boolean) => {
        for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
        expect(done()).toBe(true);
      };
      await until(() => heard.length > 0); // connected: told once
      expect(heard).toEqual([[]]);
      heard.length = 0;
      await redis.stop();
      await redis.restart();
      await until(() => heard.some((k) => k.length === 0));
      const a = line('a');
      // the command connection reconnects on its own schedule: retry until it is back
      for (let i = 0; ; i++) {
        try {
          await store.reserve(flat('holder', [a], 600));
          break;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      heard.length = 0;
      expect(await store.reserve({ ...flat('w', [a], 500), waitUntilMs: T0 + 60_000 })).toMatchObject({
        status: 'busy',
      });
      await store.release('holder');
      await until(() => heard.some((k) => k.includes('a|p1')));
    } finally {
      await waiterStore.close();
      await store.close();
    }
  });
});
