/**
 * The metadata store (API-made budgets and keys) against one contract, on SQLite, Redis and Redis
 * Cluster: create/replace preconditions, version bumps only on writes that happened, atomic
 * snapshots, and (Redis) a push to other instances on every write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetaStore } from '../../src/store/meta.js';
import { RedisMetaStore } from '../../src/store/redis/meta.js';
import { SqliteMetaStore } from '../../src/store/sqlite/meta.js';
import { type StartedCluster, type StartedRedis, startRedis, startRedisCluster } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';

/** Two handles on one store (two instances of a deployment), and how to drop them. */
type Pair = { a: MetaStore; b: MetaStore; close(): Promise<void> };

function contract(name: string, open: () => Promise<Pair>, pushes: boolean) {
  describe(name, () => {
    let pair: Pair;
    beforeAll(async () => {
      pair = await open();
    });
    afterAll(async () => {
      await pair?.close();
    });

    it('writes under preconditions and bumps the version only when something was written', async () => {
      const { a, b } = pair;
      const start = await a.version();
      expect(await a.put('budgets', 'one', { n: 1 }, 'create')).toBe(start + 1);
      expect(await b.put('budgets', 'one', { n: 2 }, 'create')).toBeNull();
      expect(await b.put('budgets', 'ghost', { n: 2 }, 'replace')).toBeNull();
      expect(await b.remove('budgets', 'ghost')).toBeNull();
      expect(await b.version()).toBe(start + 1);
      expect(await b.put('budgets', 'one', { n: 3 }, 'replace')).toBe(start + 2);
      // Kinds are separate namespaces.
      expect(await a.put('keys', 'one', { k: true }, 'create')).toBe(start + 3);

      const snapshot = await b.snapshot();
      expect(snapshot.version).toBe(start + 3);
      expect(snapshot.budgets).toEqual([{ id: 'one', value: { n: 3 } }]);
      expect(snapshot.keys).toEqual([{ id: 'one', value: { k: true } }]);

      expect(await a.remove('budgets', 'one')).toBe(start + 4);
      expect((await b.snapshot()).budgets).toEqual([]);
      await a.remove('keys', 'one');
    });

    it('lists records in id order, each parsed', async () => {
      const { a, b } = pair;
      for (const id of ['c', 'a', 'b']) await a.put('keys', id, { id }, 'create');
      expect((await b.snapshot()).keys.map((k) => k.id)).toEqual(['a', 'b', 'c']);
      for (const id of ['a', 'b', 'c']) await a.remove('keys', id);
    });

    it('only one of many racing creates of one id wins', async () => {
      const { a, b } = pair;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).put('budgets', 'contended', { i }, 'create')),
      );
      expect(results.filter((v) => v !== null)).toHaveLength(1);
      await a.remove('budgets', 'contended');
    });

    it(
      pushes ? 'tells the other instance the version of each write' : 'has no push (instances poll)',
      async () => {
        const { a, b } = pair;
        const told: Array<number | null> = [];
        const stop = b.subscribe((version) => told.push(version));
        try {
          if (pushes) {
            // Write until the subscription is up (a push arrives), then every write is announced.
            let n = 0;
            await eventually(async () => {
              const version = await a.put('keys', `warm-${n++}`, {}, 'create');
              await new Promise((r) => setTimeout(r, 20));
              expect(told).toContain(version);
            });
            const version = await a.put('keys', 'pushed', {}, 'create');
            await eventually(() => expect(told).toContain(version));
            const removed = await a.remove('keys', 'pushed');
            await eventually(() => expect(told).toContain(removed));
            for (let i = 0; i < n; i++) await a.remove('keys', `warm-${i}`);
          } else {
            await a.put('keys', 'pushed', {}, 'create');
            await a.remove('keys', 'pushed');
            expect(told).toEqual([]);
            expect(b.pollIntervalMs).toBeLessThanOrEqual(250);
          }
        } finally {
          stop();
        }
      },
    );
  });
}

let dir: string;
contract(
  'sqlite (two connections to one file)',
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'llmgw-meta-'));
    const path = join(dir, 'meta.db');
    const a = new SqliteMetaStore({ path });
    const b = new SqliteMetaStore({ path });
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  false,
);

let redis: StartedRedis;
let cluster: StartedCluster;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([redis?.close(), cluster?.stop()]);
});

function redisPair(options: () => { url?: string; clusterNodes?: Array<{ host: string; port: number }> }) {
  return async (): Promise<Pair> => {
    const prefix = `meta-${randomUUID()}`;
    const a = new RedisMetaStore({ ...options(), prefix, timeoutMs: 3000 });
    const b = new RedisMetaStore({ ...options(), prefix, timeoutMs: 3000 });
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
      },
    };
  };
}

contract(
  'redis',
  redisPair(() => ({ url: redis.url })),
  true,
);
contract(
  'redis cluster (3 masters)',
  redisPair(() => ({ clusterNodes: cluster.nodes })),
  true,
);
