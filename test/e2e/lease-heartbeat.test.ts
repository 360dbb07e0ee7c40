/**
 * The lease heartbeat across real processes (issue #14 item 4): two gateways on one store, a 4 s
 * lease renewed every second. One is SIGKILLed with a slow stream in flight: the other sees that
 * stream's money come back within a few lease lengths (before the heartbeat, the lease was
 * request_timeout_ms + lease_margin_ms, here 60 + 60 s). Meanwhile a request on the live gateway
 * that lasts several lease lengths is never reaped: it settles at its real cost.
 * Run on Redis, and on SQLite with both processes sharing the file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import type { BudgetStore } from '../../src/store/types.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/stack.js';
import { gatewayConfig, KEYS, lineOf, metricValue, OPENAI_UPSTREAM_KEY, servedCost } from './fixtures.js';

const LIMIT_USD = 1;
/** 3 s of slack over the renewal interval: a busy 2-core machine may delay a renewal by a second or two. */
const LEASE_MS = 4000;
const RENEW_MS = 1000;
/** The live gateway's request: headers after this long, over three lease lengths. */
const LONG_MS = 3 * LEASE_MS + 500;

interface Scenario {
  store: string;
  /** The test's own handle on the same data (a third party reading the books). */
  reader: () => BudgetStore;
  cleanup?: () => void;
}

describe('lease heartbeat across processes', () => {
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

  it('redis: a SIGKILLed gateway returns its money within seconds; a long request on the live one is never reaped', async () => {
    const prefix = `hb-${randomUUID()}`;
    await run(mock, {
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 500`,
      reader: () => new RedisStore({ url: redis.url, prefix, timeoutMs: 2000 }),
    });
  }, 120_000);

  it('sqlite (two processes on one file): the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-heartbeat-'));
    const path = join(dir, 'budget.db');
    try {
      await run(mock, {
        store: `type: sqlite, path: "${path}", timeout_ms: 500`,
        reader: () => new SqliteStore({ path, timeoutMs: 2000 }),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

async function run(mock: MockProvider, scenario: Scenario): Promise<void> {
  const config = gatewayConfig({
    mockUrl: mock.url,
    store: scenario.store,
    server: 'request_timeout_ms: 60000',
    budgeting: `lease_ms: ${LEASE_MS}, lease_renew_ms: ${RENEW_MS}, lease_margin_ms: 60000`,
    budgets: [`- { id: shared, scope: { key: key-1 }, limit_usd: ${LIMIT_USD}, period: none }`],
  });
  const [doomed, live] = await Promise.all([spawnGateway(config), spawnGateway(config)]);
  const store = scenario.reader();
  const line = lineOf('shared', LIMIT_USD);
  const balance = async () => (await store.balances([line]))[0]!;
  const client = (url: string) => new OpenAI({ apiKey: KEYS[0], baseURL: `${url}/v1`, maxRetries: 0 });
  try {
    // The doomed gateway's slow stream: a chunk every 300 ms, long past the kill.
    const stream = await client(doomed.url).chat.completions.create(
      {
        model: 'gpt-4o-mini',
        max_tokens: 300,
        stream: true,
        messages: [{ role: 'user', content: 'a slow stream' }],
      },
      { headers: { 'x-mock-chunks': '200', 'x-mock-chunk-delay-ms': '300', 'x-mock-output-tokens': '200' } },
    );
    const reading = (async () => {
      try {
        for await (const _ of stream) {
          // keep reading until the gateway dies
        }
        return 'ended';
      } catch {
        return 'cut';
      }
    })();
    let doomedHold = 0;
    await eventually(async () => {
      doomedHold = (await balance()).reservedNano;
      expect(doomedHold).toBeGreaterThan(0);
    }, 10_000);

    // The live gateway's long request: the provider sends its headers after three lease lengths.
    const startedAt = Date.now();
    const long = client(live.url).chat.completions.create(
      { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'a long one' }] },
      { headers: { 'x-mock-latency-ms': String(LONG_MS), 'x-mock-output-tokens': '40' } },
    );
    let liveHold = 0;
    await eventually(async () => {
      liveHold = (await balance()).reservedNano - doomedHold;
      expect(liveHold).toBeGreaterThan(0);
    }, 10_000);

    doomed.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await doomed.exited).toBeNull();
    expect(await reading).toBe('cut');

    // The money comes back: the doomed hold is reaped (spent at its reserved amount), the live
    // one stays reserved. Polled with a deadline of a few lease lengths plus a slow machine's
    // scheduling; the old lease would have held it for 120 s.
    await eventually(async () => {
      expect(await balance()).toEqual({
        limitNano: LIMIT_USD * 1e9,
        spentNano: doomedHold,
        reservedNano: liveHold,
      });
    }, 4 * LEASE_MS);
    const backAfterMs = Date.now() - killedAt;

    const answer = await long;
    const lastedMs = Date.now() - startedAt;
    expect(lastedMs).toBeGreaterThanOrEqual(LONG_MS);
    expect(answer.usage?.completion_tokens).toBe(40);
    // Settled at its real cost: never reaped, though it lived over three leases.
    const served = mock.served.find(
      (r) => r.headers['x-mock-latency-ms'] === String(LONG_MS) && r.status === 200,
    );
    expect(served).toBeDefined();
    await eventually(async () => {
      expect(await balance()).toEqual({
        limitNano: LIMIT_USD * 1e9,
        spentNano: doomedHold + servedCost(served!),
        reservedNano: 0,
      });
    }, 5000);
    const metrics = await (await fetch(`${live.url}/metrics`)).text();
    expect(metricValue(metrics, 'llm_gateway_reservations_expired_total')).toBe(1);
    expect(labelled(metrics, 'llm_gateway_lease_renewals_total', 'renewed')).toBeGreaterThanOrEqual(3);
    expect(labelled(metrics, 'llm_gateway_lease_renewals_total', 'gone')).toBe(0);
    console.log(
      `lease heartbeat (${scenario.store.split(',')[0]}): a SIGKILLed gateway's hold came back ${backAfterMs} ms after the kill (lease ${LEASE_MS} ms, renewed every ${RENEW_MS} ms); a ${lastedMs} ms request on the live gateway was never reaped`,
    );
  } finally {
    await store.close();
    scenario.cleanup?.();
  }
}

/** One series of a counter with a `result` label. */
function labelled(text: string, name: string, result: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{result="${result}"}`));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
}
