/**
 * Leases across processes: a gateway SIGKILLed while the provider holds its requests leaves their
 * reservations behind; once their lease runs out, another instance settles them at their reserved
 * amount (the provider probably billed), counts them in its metrics, and the books add up.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';
import {
  gatewayConfig,
  KEYS,
  lineOf,
  metricValue,
  OPENAI_UPSTREAM_KEY,
  totalServedCost,
} from './fixtures.js';

const LIMIT_USD = 1;
const REQUEST_TIMEOUT_MS = 60_000;
/** budgeting.lease_ms, renewed every second while the doomed instance lives (lease-heartbeat.test.ts). */
const LEASE_MS = 3000;
const HELD = 6;

describe('a gateway killed with reservations in flight', () => {
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

  it('another instance settles them at their reserved amount once the lease expires, and counts them', async () => {
    const prefix = `lease-${randomUUID()}`;
    const config = gatewayConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 1000`,
      server: `request_timeout_ms: ${REQUEST_TIMEOUT_MS}`,
      budgeting: `lease_ms: ${LEASE_MS}, lease_renew_ms: 1000`,
      // Only key-1's requests count here, so warm-up traffic on key-2 stays out of the books.
      budgets: [`- { id: shared, scope: { key: key-1 }, limit_usd: ${LIMIT_USD}, period: none }`],
    });
    const [doomed, survivor] = await Promise.all([spawnGateway(config), spawnGateway(config)]);
    const store = new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 });
    const line = lineOf('shared', LIMIT_USD);
    try {
      // Requests the provider never answers, half of them streams: reserved, in flight, then orphaned.
      const heldBodies = Array.from({ length: HELD }, (_, i) => ({
        model: 'gpt-4o-mini',
        max_tokens: 200 + 100 * i,
        messages: [{ role: 'user' as const, content: `held ${i}: ${'please wait '.repeat(i * 30)}` }],
        stream: i % 2 === 0,
      }));
      // What each reserves, asked of the survivor (same config, nothing reserved by asking).
      const reservedNano = (
        await Promise.all(heldBodies.map((body) => estimateNano(survivor.url, body)))
      ).reduce((sum, n) => sum + n, 0);
      const client = (url: string, key = KEYS[0]) =>
        new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
      const serveOn = (url: string, key = KEYS[0]) =>
        client(url, key).chat.completions.create({
          model: 'gpt-4o-mini',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'still here' }],
        });
      // Warm both up (token counting, upstream pool) on a key outside the budget, so the held
      // requests reserve close together and the kill comes well before the doomed instance's own
      // request timeout would release them.
      await Promise.all(
        [doomed.url, survivor.url].map((url) => serveOn(url, KEYS[1]).catch(() => undefined)),
      );
      const warmUps = mock.served.length;
      const held = heldBodies.map((body) =>
        client(doomed.url)
          .chat.completions.create(body, { headers: { 'x-mock-fail': 'hang' } })
          .then(
            () => 'answered',
            () => 'failed',
          ),
      );
      const hanging = () => mock.served.filter((r) => r.headers['x-mock-fail'] === 'hang');
      await eventually(() => expect(hanging()).toHaveLength(HELD), 10_000);
      doomed.kill('SIGKILL');
      const killedAt = Date.now();
      expect(await doomed.exited).toBeNull();
      expect(await Promise.all(held)).toEqual(Array(HELD).fill('failed'));
      // Nobody settles them now; only leases can (the survivor's reaper may already, for an early one).
      const [orphaned] = await store.balances([line]);
      expect((orphaned?.spentNano ?? 0) + (orphaned?.reservedNano ?? 0)).toBe(reservedNano);
      expect(orphaned?.reservedNano).toBeGreaterThan(0);

      // The survivor keeps serving meanwhile; its own requests settle at their real cost.
      await serveOn(survivor.url);

      // Past the lease (the doomed instance renewed it until the kill), a reserve on the survivor
      // reaps; its background reaper may get there first. Either way the survivor counts them.
      await new Promise((r) => setTimeout(r, Math.max(0, killedAt + LEASE_MS + 200 - Date.now())));
      await serveOn(survivor.url);
      await eventually(async () => {
        expect(metricValue(await metricsOf(survivor.url), 'llm_gateway_reservations_expired_total')).toBe(
          HELD,
        );
      }, 10_000);

      const settledNano = totalServedCost(mock.served.slice(warmUps));
      expect(await store.balances([line])).toEqual([
        { limitNano: LIMIT_USD * 1e9, spentNano: settledNano + reservedNano, reservedNano: 0 },
      ]);
      console.log(
        `lease reaping: ${HELD} orphaned reservations settled at ${reservedNano} nano-USD, plus ${settledNano} served`,
      );
    } finally {
      await store.close();
    }
    await survivor.stop();
  }, 120_000);
});

async function metricsOf(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The reservation a chat completion body would make, from POST /v1/cost/estimate, in nano-USD. */
async function estimateNano(url: string, body: object): Promise<number> {
  const response = await fetch(`${url}/v1/cost/estimate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS[0]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const estimate = (await response.json()) as { estimated_usd: number; allowed: boolean; reason: unknown };
  expect(estimate.allowed, `estimate refused: ${JSON.stringify(estimate.reason)}`).toBe(true);
  return Math.round(estimate.estimated_usd * 1e9);
}
