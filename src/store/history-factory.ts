import type { RuntimeConfig } from '../config/runtime.js';
import { parseClusterNode } from './cluster-nodes.js';
import type { HistoryStore } from './history.js';
import { RedisHistoryStore } from './redis-history.js';
import { SqliteHistoryStore } from './sqlite-history.js';

/** History reads and writes run in the background: a slow answer delays a chart, not a request. */
const MIN_TIMEOUT_MS = 5000;

/** The history store beside the configured budget store (same SQLite file, or same Redis and prefix). */
export function createHistoryStore(config: RuntimeConfig): HistoryStore {
  const store = config.file.store;
  const timeoutMs = Math.max(store.timeout_ms, MIN_TIMEOUT_MS);
  if (store.type === 'redis') {
    const clusterNodes = store.cluster_nodes?.map((text) => parseClusterNode(text)).filter((n) => n !== null);
    if (clusterNodes && clusterNodes.length > 0) {
      return new RedisHistoryStore({ clusterNodes, prefix: store.prefix, timeoutMs });
    }
    return new RedisHistoryStore({ url: store.url, prefix: store.prefix, timeoutMs });
  }
  return new SqliteHistoryStore({ path: store.path, timeoutMs });
}
