import type { RuntimeConfig } from '../config/runtime.js';
import { RedisStore } from './redis.js';
import { SqliteStore } from './sqlite.js';
import type { BudgetStore } from './types.js';

export function createStore(config: RuntimeConfig): BudgetStore {
  const store = config.file.store;
  if (store.type === 'redis') {
    if (!store.url) throw new Error('store.url: required when store.type is redis');
    return new RedisStore({ url: store.url, prefix: store.prefix, timeoutMs: store.timeout_ms });
  }
  return new SqliteStore({ path: store.path, timeoutMs: store.timeout_ms });
}
