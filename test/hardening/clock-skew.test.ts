/**
 * [hardening] 14.3: one gateway process whose machine clock is 90 s behind (shift-clock.mjs), one
 * on the right time, one Redis. Before the fix the slow instance wrote leases by its own clock, so
 * they looked expired to the other one: its next reserve reaped a live stream's reservation at the
 * worst case and the stream's settle came too late to count. Now each instance measures Redis
 * TIME against its clock and follows the store's: the live reservation is not reaped, the books
 * match what was served, and the skew is exported and logged.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import {
  gatewayConfig,
  KEYS,
  lineOf,
  metricValue,
  OPENAI_UPSTREAM_KEY,
  totalServedCost,
} from '../e2e/fixtures.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';

const SKEW_MS = -90_000;
const LIMIT_USD = 1;
const SHIFT_CLOCK = fileURLToPath(new URL('../helpers/shift-clock.mjs', import.meta.url));

describe('an instance whose clock is 90 s behind', () => {
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

  it('does not get its live reservations reaped by the others, and reports the skew', async () => {
    const prefix = `skew-${randomUUID()}`;
    const config = gatewayConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}"`,
      server: 'request_timeout_ms: 6000',
      budgeting: 'lease_margin_ms: 1000',
      budgets: [`- { id: shared, scope: global, limit_usd: ${LIMIT_USD}, period: none }`],
    });
    const [onTime, behind] = (await Promise.all([
      // On the store's clock whatever the test process's (test:calendar shifts every Node process):
      // the skew this test is about is the one it sets.
      spawnGateway(config, { SHIFT_CLOCK_OFFSET_MS: '0' }),
      spawnGateway(config, {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${SHIFT_CLOCK}`.trim(),
        SHIFT_CLOCK_OFFSET_MS: String(SKEW_MS),
      }),
    ])) as [GatewayProcess, GatewayProcess];
    const client = (g: GatewayProcess) =>
      new OpenAI({ apiKey: KEYS[0], baseURL: `${g.url}/v1`, maxRetries: 0 });
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
    try {
      // A stream held open on the slow instance: reserved, live, well within its request timeout.
      const stream = await client(behind).chat.completions.create(
        {
          model: 'gpt-4o-mini',
          max_tokens: 100,
          stream: true,
          messages: [{ role: 'user', content: 'slowly' }],
        },
        { headers: { 'x-mock-output-tokens': '8', 'x-mock-chunks': '8', 'x-mock-chunk-delay-ms': '400' } },
      );
      const [held] = await store.balances([lineOf('shared', LIMIT_USD)]);
      expect(held?.reservedNano).toBeGreaterThan(0);
      // Any reserve on the other instance reaps what looks expired to it.
      await client(onTime).chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'meanwhile' }],
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text.length).toBeGreaterThan(0);

      const reaped = metricValue(await metricsOf(onTime), 'llm_gateway_reservations_expired_total');
      const [after] = await store.balances([lineOf('shared', LIMIT_USD)]);
      const served = totalServedCost(mock.served);
      console.log(`clock skew: reaped ${reaped}; spent ${after?.spentNano} nano-USD for ${served} served`);
      expect(reaped).toBe(0);
      expect(after).toMatchObject({ spentNano: served, reservedNano: 0 });

      const skew = metricValue(await metricsOf(behind), 'llm_gateway_store_clock_skew_seconds');
      expect(Math.abs(skew - -SKEW_MS / 1000)).toBeLessThan(1);
      expect(
        Math.abs(metricValue(await metricsOf(onTime), 'llm_gateway_store_clock_skew_seconds')),
      ).toBeLessThan(1);
      expect(behind.output()).toContain("this machine's clock is");
    } finally {
      await store.close();
      await Promise.all([onTime.stop(), behind.stop()]);
    }
  }, 120_000);
});

async function metricsOf(g: GatewayProcess): Promise<string> {
  const response = await fetch(`${g.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}
