/**
 * [hardening] 14.2: two gateway processes whose files give one budget different limits ($0.02 and
 * $0.05). Each sends its own limit with every reserve; before the fix one answered 429 while the
 * other kept serving up to its own limit. Now the store keeps the smallest limit any instance sent
 * recently, both answer alike, and the drift shows in the metrics (a counter and a config hash).
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { gatewayConfig, KEYS, metricValue, OPENAI_UPSTREAM_KEY, totalServedCost } from '../e2e/fixtures.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';

const LOW_USD = 0.02;
const HIGH_USD = 0.05;

describe('two instances with different limits for one budget', () => {
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

  it('answer consistently (the smaller limit holds on both) and report the drift', async () => {
    const prefix = `drift-${randomUUID()}`;
    const config = (limitUsd: number) =>
      gatewayConfig({
        mockUrl: mock.url,
        store: `type: redis, url: "${redis.url}", prefix: "${prefix}"`,
        budgets: [`- { id: shared, scope: global, limit_usd: ${limitUsd}, period: none }`],
      });
    const [low, high] = (await Promise.all([
      spawnGateway(config(LOW_USD)),
      spawnGateway(config(HIGH_USD)),
    ])) as [GatewayProcess, GatewayProcess];
    const ask = (g: GatewayProcess) =>
      new OpenAI({ apiKey: KEYS[0], baseURL: `${g.url}/v1`, maxRetries: 0 }).chat.completions
        .create(
          { model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'count to ten' }] },
          { headers: { 'x-mock-output-tokens': '150' } },
        )
        .then(
          () => 200,
          (e: { status?: number }) => e.status ?? 0,
        );
    try {
      // One request each first, so both limits have been sent; then alternate until both refuse.
      const statuses: Array<{ on: 'low' | 'high'; status: number }> = [];
      for (let i = 0; i < 80; i++) {
        const on = i % 2 === 0 ? 'low' : 'high';
        statuses.push({ on, status: await ask(on === 'low' ? low : high) });
        const last = statuses.slice(-4);
        if (last.length === 4 && last.every((s) => s.status === 429)) break;
      }
      const served = totalServedCost(mock.served);
      const firstRefusal = statuses.findIndex((s) => s.status === 429);
      console.log(
        `limit drift: served $${(served / 1e9).toFixed(4)} under limits $${LOW_USD}/$${HIGH_USD}; ${statuses
          .map((s) => `${s.on[0]}${s.status}`)
          .join(' ')}`,
      );
      expect(served).toBeLessThanOrEqual(LOW_USD * 1e9);
      expect(firstRefusal).toBeGreaterThan(0);
      // Once one instance refuses, so does the other: nothing is served after the first refusal.
      expect(statuses.slice(firstRefusal).filter((s) => s.status === 200)).toEqual([]);
      expect(statuses.slice(firstRefusal).some((s) => s.on === 'high')).toBe(true);

      const [lowMetrics, highMetrics] = await Promise.all([metricsOf(low), metricsOf(high)]);
      expect(metricValue(highMetrics, 'llm_gateway_budget_limit_drift_total')).toBeGreaterThan(0);
      expect(highMetrics).toContain('llm_gateway_budget_limit_drift_total{budget="shared"}');
      const hashOf = (text: string) => /llm_gateway_config_info\{hash="([0-9a-f]+)"\} 1/.exec(text)?.[1];
      expect(hashOf(lowMetrics)).toMatch(/^[0-9a-f]{12}$/);
      expect(hashOf(highMetrics)).toMatch(/^[0-9a-f]{12}$/);
      expect(hashOf(lowMetrics)).not.toBe(hashOf(highMetrics));
      expect(high.output()).toContain("budget limit differs from the other instances'");
    } finally {
      await Promise.all([low.stop(), high.stop()]);
    }
  }, 120_000);
});

async function metricsOf(g: GatewayProcess): Promise<string> {
  const response = await fetch(`${g.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}
