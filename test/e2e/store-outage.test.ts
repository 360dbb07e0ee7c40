/**
 * A Redis outage end to end, through real gateways (in-process) on a real redis-server: with
 * `reject` the gateway answers 503 store_unavailable quickly, with `allow` it serves and counts what
 * it could not record; neither crashes; both budget again once Redis is back, without a restart;
 * and a stream reserved before the outage that ends during it is settled after it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';
import {
  gatewayConfig,
  KEYS,
  lineOf,
  metricValue,
  OPENAI_UPSTREAM_KEY,
  servedChats,
  servedCost,
} from './fixtures.js';

const LIMIT_USD = 10;
/** Short enough to show a fast 503, long enough that a busy test machine does not trip it by itself. */
const STORE_TIMEOUT_MS = 1000;
/** Busy-waits ARGV[1] ms inside Redis (scripts are atomic: every other client waits). */
const BUSY_LUA = `
local function ms() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
local stop = ms() + tonumber(ARGV[1])
while ms() < stop do end
return 1
`;
/** Marks requests sent while Redis is down, so the mock's records tell them apart. */
const PHASE = 'x-mock-test-phase';

describe('a Redis outage, end to end', () => {
  let redis: StartedRedis;
  let mock: MockProvider;
  let strict: Gateway;
  let lenient: Gateway;
  beforeAll(async () => {
    [redis, mock] = await Promise.all([
      startRedis(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY }),
    ]);
    const prefix = `outage-${randomUUID()}`;
    const config = (mode: string) =>
      gatewayConfig({
        mockUrl: mock.url,
        store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: ${STORE_TIMEOUT_MS}, on_unavailable: ${mode}`,
        budgets: [`- { id: shared, scope: global, limit_usd: ${LIMIT_USD}, period: none }`],
      }).replace('log_level: warn', 'log_level: silent');
    [strict, lenient] = await Promise.all([
      startGateway({ configText: config('reject'), env: {} }),
      startGateway({ configText: config('allow'), env: {} }),
    ]);
  });
  afterAll(async () => {
    await strict?.close();
    await lenient?.close();
    await Promise.all([redis?.close(), mock?.close()]);
  });

  it('rejects fast or serves uncounted while Redis is down, then budgets again and settles what was in flight', async () => {
    const client = (gateway: Gateway) =>
      new OpenAI({ apiKey: KEYS[0], baseURL: `${gateway.url}/v1`, maxRetries: 0, timeout: 20_000 });
    const ask = (gateway: Gateway, phase: string) =>
      client(gateway).chat.completions.create(
        { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: `during ${phase}` }] },
        { headers: { [PHASE]: phase } },
      );
    const unrecorded = async (gateway: Gateway) =>
      metricValue(
        await (await fetch(`${gateway.url}/metrics`)).text(),
        'llm_gateway_unrecorded_requests_total',
      );

    // Outside the outage a 503 can only be a slow moment of a busy machine: try again.
    await Promise.all([retryOn503(() => ask(strict, 'before')), retryOn503(() => ask(lenient, 'before'))]);

    // A slow stream (4.5 s), reserved now, finishing while Redis is down.
    const stream = await retryOn503(() =>
      client(strict).chat.completions.create(
        {
          model: 'gpt-4o-mini',
          max_tokens: 300,
          stream: true,
          messages: [{ role: 'user', content: 'a slow story across the outage' }],
        },
        { headers: { [PHASE]: 'across', 'x-mock-chunks': '30', 'x-mock-chunk-delay-ms': '150' } },
      ),
    );
    const chunks = stream[Symbol.asyncIterator]();
    expect((await chunks.next()).done).toBe(false);

    await redis.stop();
    try {
      // reject: 503 store_unavailable, in about the store timeout (generously bounded: a busy machine).
      const started = Date.now();
      const refusals = await Promise.all(
        Array.from({ length: 5 }, () => ask(strict, 'outage').catch((error: unknown) => error)),
      );
      const elapsed = Date.now() - started;
      for (const refusal of refusals) {
        expect(refusal).toBeInstanceOf(APIError);
        expect((refusal as APIError).status).toBe(503);
        expect((refusal as APIError).code).toBe('store_unavailable');
      }
      expect(elapsed).toBeLessThan(3000);
      console.log(
        `store outage: 5 concurrent requests refused with 503 in ${elapsed} ms (store timeout ${STORE_TIMEOUT_MS} ms)`,
      );

      // allow: served, and counted as unrecorded.
      const unrecordedBefore = await unrecorded(lenient);
      await Promise.all([ask(lenient, 'outage'), ask(lenient, 'outage'), ask(lenient, 'outage')]);
      expect((await unrecorded(lenient)) - unrecordedBefore).toBe(3);

      // The stream ends during the outage: its settle waits in the retry queue.
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
        // drain
      }
      await eventually(() => expect(strict.engine.pendingRetries()).toBeGreaterThanOrEqual(1));
      // No crash: both still answer, and say the store is not ready.
      for (const gateway of [strict, lenient]) {
        expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${gateway.url}/readyz`)).status).toBe(503);
      }
    } finally {
      await redis.restart();
    }

    // Back, without restarting either gateway: budgeted again, and the queued settle lands.
    await eventually(async () => {
      await ask(strict, 'after');
    }, 10_000);
    const unrecordedAfterOutage = await unrecorded(lenient);
    await ask(lenient, 'after');
    expect(await unrecorded(lenient)).toBe(unrecordedAfterOutage);
    await eventually(() => expect(strict.engine.pendingRetries()).toBe(0), 20_000);

    // Every served request was counted, except the ones `allow` let through while Redis was down.
    const served = servedChats(mock.served);
    const counted = served.filter((r) => r.headers[PHASE] !== 'outage');
    expect(served.filter((r) => r.headers[PHASE] === 'outage')).toHaveLength(3);
    expect(counted.filter((r) => r.headers[PHASE] === 'across')).toHaveLength(1);
    const countedNano = counted.reduce((sum, r) => sum + servedCost(r), 0);
    const [balance] = await strict.store.balances([lineOf('shared', LIMIT_USD)]);
    expect({ spent: balance?.spentNano, reserved: balance?.reservedNano }).toEqual({
      spent: countedNano,
      reserved: 0,
    });
  }, 60_000);

  it('releases a reservation whose reserve timed out but reached Redis anyway (no orphan, nothing charged)', async () => {
    const client = new OpenAI({ apiKey: KEYS[0], baseURL: `${strict.url}/v1`, maxRetries: 0 });
    const line = lineOf('shared', LIMIT_USD);
    const [start] = await strict.store.balances([line]);
    // A script that keeps Redis busy for a while: commands sent meanwhile wait, then run after it.
    const busy = new Redis(redis.url);
    try {
      const blocking = busy.eval(BUSY_LUA, 0, String(STORE_TIMEOUT_MS * 2.5));
      await new Promise((r) => setTimeout(r, 100));
      const refusal = await client.chat.completions
        .create({
          model: 'gpt-4o-mini',
          max_tokens: 100,
          messages: [{ role: 'user', content: 'while busy' }],
        })
        .catch((error: unknown) => error);
      expect((refusal as APIError).status).toBe(503);
      expect((refusal as APIError).code).toBe('store_unavailable');
      await blocking;
    } finally {
      busy.disconnect();
    }
    // The reserve ran after all, once Redis was free: the gateway takes it back, without spending.
    await eventually(async () => {
      expect(await strict.store.balances([line])).toEqual([start]);
    }, 10_000);
    await eventually(() => expect(strict.engine.pendingRetries()).toBe(0), 10_000);
  });
});

async function retryOn503<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof APIError && error.status === 503) || attempt >= 10) throw error;
    }
  }
}
