import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { runStoreContract } from '../../src/store/contract.test-helpers.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { type StartedCluster, startRedisCluster } from '../helpers/redis.js';

let cluster: StartedCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

// Each test runs on a fresh prefix, so its {prefix} hash tag lands on a different slot (and node).
runStoreContract('redis cluster (3 masters)', async () => {
  const store = new RedisStore({ clusterNodes: cluster.nodes, prefix: `t-${randomUUID()}`, timeoutMs: 3000 });
  return { store, cleanup: () => store.close() };
});
