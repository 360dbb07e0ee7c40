import type { RuntimeConfig } from '../config/runtime.js';
import type { MetaStore } from './meta.js';
import { redisTargetOf } from './redis-connection.js';
import { RedisMetaStore } from './redis-meta.js';
import { SqliteMetaStore } from './sqlite-meta.js';

/** The metadata store beside the budget store the config names (same file, or same Redis prefix). */
export function createMetaStore(config: RuntimeConfig): MetaStore {
  const store = config.file.store;
  if (store.type === 'redis')
    return new RedisMetaStore({ ...redisTargetOf(config), timeoutMs: store.timeout_ms });
  return new SqliteMetaStore({ path: store.path, timeoutMs: store.timeout_ms });
}
