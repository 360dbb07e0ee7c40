/** A metered request's slices count on its tokens_per_minute limits as they are held (issue 13). */
import { afterEach, describe, expect, it } from 'vitest';
import type { RuntimeConfig, RuntimeLimit } from '../config/runtime.js';
import { closeAll, granted, NOON, setup, usage } from './engine.test-helpers.js';
import { config, request } from './fixtures.test-helpers.js';

afterEach(closeAll);

function withLimit(cfg: RuntimeConfig, limit: Partial<RuntimeLimit>): RuntimeConfig {
  const full: RuntimeLimit = {
    id: 'limit',
    scope: 'global',
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    concurrentRequests: 0,
    concurrentStreams: 0,
    ...limit,
  };
  return { ...cfg, limits: { ...cfg.limits, list: [full] } };
}

describe('metered requests on tokens_per_minute limits', () => {
  it('count each slice as it is held, not only at the settle', async () => {
    const cfg = withLimit(config({ sliceTokens: 100 }), { tokensPerMinute: 100_000 });
    const { engine, store } = setup(cfg);
    const grant = granted(
      await engine.admit({ ...request(cfg, { promptTokens: 1000 }), requestedCap: 2000, metered: true }),
    );
    const limits = grant.reservation!.limits!;
    const tokens = async () => (await store.limitUses(limits, NOON + 1))[0]!.tokens;
    expect(grant.meter?.heldCap).toBe(100);
    expect(await tokens()).toBe(1100);
    expect(await engine.extend(grant, 100, 1)).toEqual({ status: 'extended', grantedAddCap: 100 });
    expect(await tokens()).toBe(1200);
    await engine.settle(grant.reservation, grant.servedModel, usage(1000, 150));
    expect(await tokens()).toBe(1150);
  });
});
