import type { RuntimeConfig } from '../config/runtime.js';
import { parseClusterNode } from './cluster-nodes.js';
import { RedisStore } from './redis.js';
import { SqliteStore } from './sqlite.js';
import type { BudgetStore } from './types.js';

export function createStore(config: RuntimeConfig): BudgetStore {
  const store = config.file.store;
  if (store.type === 'redis') {
    const common = { prefix: store.prefix, timeoutMs: store.timeout_ms };
    if (store.cluster_nodes) {
      const clusterNodes = store.cluster_nodes.map((text, i) => {
        const node = parseClusterNode(text);
        if (!node) throw new Error(`store.cluster_nodes[${i}]: expected host:port, got ${text}`);
        return node;
      });
      return new RedisStore({ ...common, clusterNodes });
    }
    if (!store.url) throw new Error('store.url: required when store.type is redis');
    return new RedisStore({ ...common, url: store.url });
  }
  return new SqliteStore({ path: store.path, timeoutMs: store.timeout_ms });
}
