import type { RuntimeConfig } from '../config/runtime.js';
import { parseClusterNode } from './cluster-nodes.js';
import type { MetaStore } from './meta.js';
import { RedisMetaStore } from './redis-meta.js';
import { SqliteMetaStore } from './sqlite-meta.js';

/** The metadata store beside the budget store the config names (same file, or same Redis prefix). */
export function createMetaStore(config: RuntimeConfig): MetaStore {
  const store = config.file.store;
  if (store.type === 'redis') {
    const common = { prefix: store.prefix, timeoutMs: store.timeout_ms };
    if (store.cluster_nodes) {
      const clusterNodes = store.cluster_nodes.map((text, i) => {
        const node = parseClusterNode(text);
        if (!node) throw new Error(`store.cluster_nodes[${i}]: expected host:port, got ${text}`);
        return node;
      });
      return new RedisMetaStore({ ...common, clusterNodes });
    }
    if (!store.url) throw new Error('store.url: required when store.type is redis');
    return new RedisMetaStore({ ...common, url: store.url });
  }
  return new SqliteMetaStore({ path: store.path, timeoutMs: store.timeout_ms });
}
