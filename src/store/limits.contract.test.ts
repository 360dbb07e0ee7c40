import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { type StartedRedis, startRedis } from '../../test/helpers/redis.js';
import { runLimitsContract } from './limits.contract.test-helpers.js';
import { RedisStore } from './redis/budget.js';
import { SqliteStore } from './sqlite/budget.js';

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

runLimitsContract('sqlite', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

runLimitsContract('redis', async () => {
  const store = new RedisStore({ url: redis.url, prefix: `t-${randomUUID()}`, timeoutMs: 2000 });
  return { store, cleanup: () => store.close() };
});
