/**
 * The three stores of a gateway, built once from the config: the budget counters, the API-made
 * budgets and keys (meta), and the usage history. Budgets and meta share one SQLite file or one
 * Redis prefix; history goes to its own SQLite file beside the budget file, the same Redis, or
 * Postgres (history.store: postgres, with either budget store).
 */
import type { RuntimeHistoryStore, RuntimeStore } from '../config/runtime.js';
import type { HistoryStore } from './history.js';
import type { MetaStore } from './meta.js';
import { PostgresHistoryStore } from './postgres/history.js';
import { RedisStore } from './redis/budget.js';
import type { RedisTarget } from './redis/client.js';
import { RedisEpoch } from './redis/epoch.js';
import { RedisHistoryStore } from './redis/history.js';
import { RedisMetaStore } from './redis/meta.js';
import { SqliteStore } from './sqlite/budget.js';
import { SqliteHistoryStore } from './sqlite/history.js';
import { sqliteHistoryPath } from './sqlite/history-path.js';
import { SqliteMetaStore } from './sqlite/meta.js';
import type { BudgetStore } from './types.js';

export interface Stores {
  budget: BudgetStore;
  meta: MetaStore;
  history: HistoryStore;
}

/** History reads and writes run in the background: a slow answer delays a chart, not a request. */
const HISTORY_MIN_TIMEOUT_MS = 5000;

export function createStores(config: {
  store: RuntimeStore;
  history?: { store: RuntimeHistoryStore };
}): Stores {
  const store = config.store;
  const historyTimeoutMs = Math.max(store.timeoutMs, HISTORY_MIN_TIMEOUT_MS);
  const where = config.history?.store ?? { type: 'same', url: undefined, path: undefined };
  const postgres = () => {
    if (!where.url) throw new Error('history.url: required when history.store is postgres');
    return new PostgresHistoryStore({ url: where.url, timeoutMs: historyTimeoutMs });
  };
  if (store.type === 'redis') {
    const target = redisTarget(store);
    // One epoch for the counters and the API-made budgets and keys: a reset of one is a reset of both.
    const epoch = new RedisEpoch(`{${target.prefix}}`);
    return {
      budget: new RedisStore({ ...target, timeoutMs: store.timeoutMs, epoch }),
      meta: new RedisMetaStore({ ...target, timeoutMs: store.timeoutMs, epoch }),
      history:
        where.type === 'postgres'
          ? postgres()
          : new RedisHistoryStore({ ...target, timeoutMs: historyTimeoutMs }),
    };
  }
  return {
    budget: new SqliteStore({ path: store.path, timeoutMs: store.timeoutMs }),
    meta: new SqliteMetaStore({ path: store.path, timeoutMs: store.timeoutMs }),
    history:
      where.type === 'postgres'
        ? postgres()
        : new SqliteHistoryStore({
            path: sqliteHistoryPath(store.path, where.path),
            timeoutMs: historyTimeoutMs,
          }),
  };
}

/** Closes all three; one failing to close does not keep the others open. */
export async function closeStores(stores: Stores): Promise<void> {
  await Promise.allSettled([stores.budget.close(), stores.meta.close(), stores.history.close()]);
}

/** Where the configured Redis is (config validation has already checked the address). */
function redisTarget(store: RuntimeStore): RedisTarget & { prefix: string } {
  if (store.clusterNodes && store.clusterNodes.length > 0) {
    return { clusterNodes: store.clusterNodes, prefix: store.prefix };
  }
  if (!store.url) throw new Error('store.url: required when store.type is redis');
  return { url: store.url, prefix: store.prefix };
}
