import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { runStoreContract } from '../../src/store/contract.test-helpers.js';
import { runLeaseContract } from '../../src/store/leases.contract.test-helpers.js';
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
  const prefix = `t-${randomUUID()}`;
  const open = () => new RedisStore({ clusterNodes: cluster.nodes, prefix, timeoutMs: 3000 });
  const store = open();
  // another instance: a published free reaches its subscriber through the cluster bus
  return { store, openPeer: open, cleanup: () => store.close() };
});

// The heartbeat's batched renewal: reservation hashes outside KEYS, in the script's slot by the tag.
runLeaseContract('redis cluster (3 masters)', async () => {
  const prefix = `t-${randomUUID()}`;
  const open = () => new RedisStore({ clusterNodes: cluster.nodes, prefix, timeoutMs: 3000 });
  const store = open();
  return { store, openPeer: open, cleanup: () => store.close() };
});
