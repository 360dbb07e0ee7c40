/**
 * Redis connections for every Redis-backed store (budget counters, API records, history), and where
 * they point, read once from the config. Command connections fail fast: no offline queue, no resend
 * of commands in flight when the link drops (a resent reserve could apply twice), and a reconnect
 * loop forever in the background. A subscriber connection queues until connected instead.
 */
import { Cluster, Redis } from 'ioredis';
import type { RuntimeConfig } from '../config/runtime.js';
import { type ClusterNode, parseClusterNode } from './cluster-nodes.js';

export interface RedisTarget {
  /** redis://host:port/db; used when clusterNodes is absent. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Seed nodes of a Redis Cluster; when given, `url` is ignored. */
  clusterNodes?: ClusterNode[];
}

const RECONNECT_MAX_DELAY_MS = 1000;

export function connectRedis(
  target: RedisTarget,
  timeoutMs: number,
  mode: 'commands' | 'subscriber' = 'commands',
) {
  const retry = (times: number) => Math.min(50 * times, RECONNECT_MAX_DELAY_MS);
  const subscriber = mode === 'subscriber';
  const connectTimeout = Math.max(timeoutMs, 1000);
  const common = subscriber
    ? { connectTimeout }
    : {
        enableAutoPipelining: true,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout,
      };
  const client: Redis | Cluster = target.clusterNodes
    ? new Cluster(target.clusterNodes, {
        enableAutoPipelining: !subscriber,
        enableOfflineQueue: subscriber,
        clusterRetryStrategy: retry,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 4,
        redisOptions: common,
      })
    : new Redis(target.url ?? 'redis://127.0.0.1:6379', {
        ...common,
        enableOfflineQueue: subscriber,
        retryStrategy: retry,
      });
  // Errors surface per operation; without a listener ioredis would print every reconnect failure.
  client.on('error', () => {});
  return client;
}

/** Where the configured Redis is (config validation has already checked the nodes). */
export function redisTargetOf(config: RuntimeConfig): RedisTarget & { prefix: string } {
  const store = config.file.store;
  if (store.cluster_nodes && store.cluster_nodes.length > 0) {
    const clusterNodes = store.cluster_nodes.map((text, i) => {
      const node = parseClusterNode(text);
      if (!node) throw new Error(`store.cluster_nodes[${i}]: expected host:port, got ${text}`);
      return node;
    });
    return { clusterNodes, prefix: store.prefix };
  }
  if (!store.url) throw new Error('store.url: required when store.type is redis');
  return { url: store.url, prefix: store.prefix };
}
