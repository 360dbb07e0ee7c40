/**
 * The store section compiled, and what it needs beyond its schema: a Redis address, given one way,
 * and well-formed cluster nodes.
 */
import { parseClusterNode } from './cluster-nodes.js';
import type { RuntimeStore } from './runtime.js';
import type { ConfigFile } from './schema.js';

export function compileStore(store: ConfigFile['store']): RuntimeStore {
  const nodes = store.cluster_nodes?.flatMap((text) => parseClusterNode(text) ?? []);
  return {
    type: store.type,
    path: store.path,
    url: nodes === undefined ? store.url : undefined,
    clusterNodes: nodes,
    prefix: store.prefix,
    timeoutMs: store.timeout_ms,
    onUnavailable: store.on_unavailable,
  };
}

/** What the store section needs beyond its schema: a Redis address, one way, and valid cluster nodes. */
export function storeProblems(store: ConfigFile['store']): string[] {
  const problems: string[] = [];
  const nodes = store.cluster_nodes;
  if (nodes !== undefined && store.type !== 'redis') {
    problems.push('store.cluster_nodes: only used when store.type is redis');
  }
  if (store.type === 'redis' && !store.url && nodes === undefined) {
    problems.push('store.url: required when store.type is redis (e.g. redis://127.0.0.1:6379)');
  }
  if (store.type === 'redis' && store.url && nodes !== undefined) {
    problems.push(
      'store.cluster_nodes: give either store.url (one Redis) or store.cluster_nodes (a Redis Cluster), not both',
    );
  }
  nodes?.forEach((node, i) => {
    if (!parseClusterNode(node))
      problems.push(`store.cluster_nodes[${i}]: expected host:port with a port 1-65535, got ${node}`);
  });
  return problems;
}
