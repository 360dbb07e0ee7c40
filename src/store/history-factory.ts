import type { RuntimeConfig } from '../config/runtime.js';
import type { HistoryStore } from './history.js';
import { redisTargetOf } from './redis-connection.js';
import { RedisHistoryStore } from './redis-history.js';
import { SqliteHistoryStore } from './sqlite-history.js';

/** History reads and writes run in the background: a slow answer delays a chart, not a request. */
const MIN_TIMEOUT_MS = 5000;

/** The history store beside the configured budget store (same SQLite file, or same Redis and prefix). */
export function createHistoryStore(config: RuntimeConfig): HistoryStore {
  const store = config.file.store;
  const timeoutMs = Math.max(store.timeout_ms, MIN_TIMEOUT_MS);
  if (store.type === 'redis') return new RedisHistoryStore({ ...redisTargetOf(config), timeoutMs });
  return new SqliteHistoryStore({ path: store.path, timeoutMs });
}
