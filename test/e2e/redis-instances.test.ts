/**
 * Issue 3's headline proof on Redis: three gateway processes share one Redis and one global budget
 * of $0.05; 500 mixed requests race for it (see race.ts for what is checked).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { gatewayConfig, OPENAI_UPSTREAM_KEY } from './fixtures.js';
import { RACE_BUDGETS, RACE_MAX_OUTPUT_TOKENS, raceToTheLimit } from './race.js';

describe('three gateway processes on one Redis', () => {
  let redis: StartedRedis;
  let mock: MockProvider;
  beforeAll(async () => {
    [redis, mock] = await Promise.all([
      startRedis(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), mock?.close()]);
  });

  it('500 concurrent mixed requests never spend past a $0.05 global budget, and the books match the provider', async () => {
    const prefix = `e2e-${randomUUID()}`;
    const config = gatewayConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 5000`,
      budgets: RACE_BUDGETS,
      maxOutputTokens: RACE_MAX_OUTPUT_TOKENS,
    });
    const gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(config)));
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 5000 });
    try {
      await raceToTheLimit({
        label: 'redis, 3 processes',
        gatewayUrls: gateways.map((g) => g.url),
        mock,
        store,
        seed: 3,
      });
    } finally {
      await store.close();
    }
    await Promise.all(gateways.map((g) => g.stop()));
  }, 150_000);
});
