/**
 * [hardening] 14.1: Redis restarted empty (no AOF) under load, two gateway processes. Before the
 * fix the budgets refilled silently (a $0.20 budget was served $0.316). Now the first script
 * after the restart finds the deployment epoch missing, every instance fails closed (503
 * store_reset in the client's format, /readyz 503, metrics, an error log line) until an operator
 * calls POST /admin/store/recover; settles of requests in flight at the crash are counted as lost.
 */
import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  gatewayConfig,
  KEYS,
  metricValue,
  OPENAI_UPSTREAM_KEY,
  totalServedCost,
} from '../e2e/fixtures.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';

const LIMIT_USD = 0.02;
const ADMIN = 'admin-token-store-reset-0123456789abcdef';
/** Requests answered after the restart before the load stops (bounded: without the fix they are 200s). */
const AFTER_RESTART = 24;
const HELD = 3;

describe('Redis restarted empty under load', () => {
  let redis: StartedRedis;
  let mock: MockProvider;
  beforeAll(async () => {
    [redis, mock] = await Promise.all([
      startRedis(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY, anthropicApiKey: ANTHROPIC_UPSTREAM_KEY }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), mock?.close()]);
  });

  it('fails closed on every instance until recovered through the admin API; nothing is served past the budget', async () => {
    const prefix = `reset-${randomUUID()}`;
    const config = `${gatewayConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 1000`,
      budgets: [`- { id: shared, scope: global, limit_usd: ${LIMIT_USD}, period: none }`],
    })
      .replace(
        'providers:\n',
        `providers:\n  anthropic: { kind: anthropic, base_url: "${mock.url}", api_key: "${ANTHROPIC_UPSTREAM_KEY}" }\n`,
      )
      .replace(
        'models:\n',
        'models:\n  claude-sonnet-4-5: { provider: anthropic, input: 3.00, output: 15.00, max_output_tokens: 64000 }\n',
      )}\nadmin: { token: "${ADMIN}" }\n`;
    const gateways = await Promise.all([spawnGateway(config), spawnGateway(config)]);
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    const openai = (g: GatewayProcess) =>
      new OpenAI({ apiKey: KEYS[0], baseURL: `${g.url}/v1`, maxRetries: 0 });
    const ask = (g: GatewayProcess, headers: Record<string, string> = {}) =>
      openai(g).chat.completions.create(
        { model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'count to ten' }] },
        { headers: { 'x-mock-output-tokens': '150', ...headers } },
      );
    try {
      // Streams in flight across the crash: reserved now, settled after Redis came back empty.
      const held = await Promise.all(
        Array.from({ length: HELD }, () =>
          openai(a).chat.completions.create(
            {
              model: 'gpt-4o-mini',
              max_tokens: 50,
              stream: true,
              messages: [{ role: 'user', content: 'hold' }],
            },
            {
              headers: {
                'x-mock-output-tokens': '10',
                'x-mock-chunks': '10',
                'x-mock-chunk-delay-ms': '600',
              },
            },
          ),
        ),
      );
      const drained = held.map(async (stream) => {
        for await (const _ of stream) {
          // read to the end
        }
      });

      // Load on both instances until the budget refuses, then Redis dies and comes back empty.
      const outcomes: Array<{ after: boolean; status: number; code?: string; type?: string }> = [];
      let restarted = false;
      let afterRestart = 0;
      let exhausted = false;
      const worker = async (g: GatewayProcess) => {
        while (afterRestart < AFTER_RESTART) {
          const after = restarted;
          try {
            await ask(g);
            outcomes.push({ after, status: 200 });
          } catch (error) {
            const e = error as InstanceType<typeof OpenAI.APIError>;
            if (!(e instanceof OpenAI.APIError)) throw error;
            const body = e.error as { code?: string; type?: string } | undefined;
            outcomes.push({ after, status: e.status ?? 0, code: body?.code, type: body?.type });
            if (e.status === 429) exhausted = true;
          }
          if (after) afterRestart++;
        }
      };
      const load = Promise.all([worker(a), worker(b), worker(a), worker(b)]);
      await eventually(() => expect(exhausted).toBe(true), 30_000);
      redis.kill();
      await redis.restart();
      restarted = true;
      await load;
      await Promise.all(drained);

      const served = totalServedCost(mock.served);
      console.log(
        `store reset: served $${(served / 1e9).toFixed(4)} of a $${LIMIT_USD} budget; after the restart ${outcomes
          .filter((o) => o.after)
          .map((o) => o.code ?? o.status)
          .join(',')}`,
      );
      // Nothing past the budget: before the fix the emptied Redis refilled it.
      expect(served).toBeLessThanOrEqual(LIMIT_USD * 1e9);
      const after = outcomes.filter((o) => o.after);
      expect(after.filter((o) => o.status === 200)).toEqual([]);
      const resets = after.filter((o) => o.code === 'store_reset');
      expect(resets.length).toBeGreaterThan(AFTER_RESTART / 2);
      expect(resets[0]).toEqual({ after: true, status: 503, code: 'store_reset', type: 'server_error' });

      // Anthropic clients get their own format; /readyz fails on both; the metrics say why.
      const anthropic = new Anthropic({ apiKey: KEYS[0], baseURL: b.url, maxRetries: 0 });
      const refused = await anthropic.messages
        .create({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Anthropic.APIError);
      expect((refused as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
      expect((refused as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        type: 'error',
        error: { type: 'store_reset' },
      });
      for (const g of gateways) {
        const ready = await fetch(`${g.url}/readyz`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({ status: 'store reset' });
        const text = await metricsOf(g);
        expect(metricValue(text, 'llm_gateway_store_reset_detected_total')).toBe(1);
        expect(metricValue(text, 'llm_gateway_store_reset')).toBe(1);
        expect(g.output()).toContain('budget store reset detected');
      }
      // The streams held across the crash were served, but their settles had nowhere to land.
      await eventually(async () =>
        expect(metricValue(await metricsOf(a), 'llm_gateway_settles_lost_total')).toBe(HELD),
      );
      expect(a.output()).toContain('settle lost in a store reset');

      // Still refused a while later: only the operator ends it.
      await expect(ask(b)).rejects.toMatchObject({ status: 503 });
      const recover = await fetch(`${a.url}/admin/store/recover`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(recover.status).toBe(200);
      expect(await recover.json()).toMatchObject({
        status: 'recovered',
        reset: { reason: expect.any(String) },
      });
      // Both serve again (the other instance adopts the new epoch on its next store call).
      await expect(ask(b)).resolves.toMatchObject({ object: 'chat.completion' });
      await expect(ask(a)).resolves.toMatchObject({ object: 'chat.completion' });
      for (const g of gateways) {
        await eventually(async () => expect((await fetch(`${g.url}/readyz`)).status).toBe(200), 10_000);
        expect(metricValue(await metricsOf(g), 'llm_gateway_store_reset')).toBe(0);
      }
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  }, 180_000);
});

async function metricsOf(g: GatewayProcess): Promise<string> {
  const response = await fetch(`${g.url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}
