/**
 * What the gateway checks of the Redis it counts money in, at start-up ([hardening] 14.1): a Redis
 * without AOF loses every acknowledged write since its last snapshot on a restart (docs/stores.md
 * "Redis persistence"). CONFIG may be disabled or renamed (managed Redis): that is said, not fatal.
 */
import type { RedisClient } from './client.js';

export async function persistenceWarnings(redis: RedisClient): Promise<string[]> {
  try {
    const reply = (await redis.call((c) =>
      (c as { config(...args: string[]): Promise<unknown> }).config('GET', 'appendonly'),
    )) as unknown;
    const flat = Array.isArray(reply) ? reply.flat(2).map(String) : [];
    const at = flat.indexOf('appendonly');
    const value = at >= 0 ? flat[at + 1] : undefined;
    if (value === 'no') {
      return [
        'redis has appendonly no: a Redis restart loses the counters written since its last snapshot (budgets refill); the gateway detects an empty Redis and fails closed, see docs/operations.md. Set appendonly yes.',
      ];
    }
    return [];
  } catch (error) {
    return [
      `could not check Redis persistence (CONFIG GET appendonly: ${(error as Error).message}); make sure AOF is on (docs/stores.md)`,
    ];
  }
}
