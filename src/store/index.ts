import type { RuntimeConfig } from '../config/runtime.js';
import { RedisStore } from './redis.js';
import { redisTargetOf } from './redis-connection.js';
import { SqliteStore } from './sqlite.js';
import type { BudgetStore } from './types.js';

export function createStore(config: RuntimeConfig): BudgetStore {
  const store = config.file.store;
  if (store.type === 'redis')
    return new RedisStore({ ...redisTargetOf(config), timeoutMs: store.timeout_ms });
  return new SqliteStore({ path: store.path, timeoutMs: store.timeout_ms });
}
