/**
 * Whom each served Responses answer belongs to, shared by every gateway instance on the same store
 * (the SQLite file or the Redis deployment), so GET /v1/responses/{id} works on whichever instance
 * the load balancer picks, not only on the one that served the response. Each instance still keeps
 * its own in-memory copy (providers/response-memory.ts) and asks the store only on a miss.
 *
 * An entry is the response id -> { owner, provider }: a key id or trial-user id and a provider
 * name, nothing secret, no response content. Entries expire after OWNER_TTL_MS, OpenAI's default
 * retention of stored responses (30 days): a retrieval after that would find nothing upstream.
 * Writes are off the answer's critical path (the caller does not wait for them); a lost write makes
 * that response retrievable on the instance that served it only, never by anyone else.
 */
import type { RuntimeStore } from '../config/runtime.js';
import { RedisResponseOwners } from './redis/response-owners.js';
import type { ResponseOwnerStore } from './response-owner-types.js';
import { SqliteResponseOwners } from './sqlite/response-owners.js';

export type { ResponseOwner, ResponseOwnerStore } from './response-owner-types.js';
export { OWNER_TTL_MS } from './response-owner-types.js';

/** Beside the budget counters: the same SQLite file, or the same Redis prefix. */
export function createResponseOwners(
  store: RuntimeStore,
  clock: () => number = Date.now,
): ResponseOwnerStore {
  if (store.type === 'redis') {
    const target =
      store.clusterNodes && store.clusterNodes.length > 0
        ? { clusterNodes: store.clusterNodes }
        : { url: store.url };
    return new RedisResponseOwners({ ...target, prefix: store.prefix, timeoutMs: store.timeoutMs });
  }
  return new SqliteResponseOwners({ path: store.path, timeoutMs: store.timeoutMs, clock });
}
