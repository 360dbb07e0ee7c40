/**
 * Issue 18's fleet history: three gateway processes on one Redis write their usage history to one
 * Postgres 15 under load. The ledger holds every request exactly once, the rollups equal the
 * ledger, /admin/usage equals what the mock served; then Postgres is stopped mid-load: requests
 * keep being budgeted (200s, the budget moves), and once Postgres is back the buffered history
 * lands, once.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { RedisStore } from '../../src/store/redis/budget.js';
import { type StartedPostgres, startPostgres } from '../helpers/postgres.js';
import { spawnGateway } from '../helpers/processes.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { ADMIN_TOKEN, eventually } from '../helpers/stack.js';
import {
  gatewayConfig,
  KEYS,
  lineOf,
  metricValue,
  OPENAI_UPSTREAM_KEY,
  totalServedCost,
} from './fixtures.js';

const LIMIT_USD = 1000;
const CONCURRENCY = 12;

describe('three gateways on one Redis, history in one Postgres', () => {
  let redis: StartedRedis;
  let postgres: StartedPostgres;
  let mock: MockProvider;
  beforeAll(async () => {
    [redis, postgres, mock] = await Promise.all([
      startRedis(),
      startPostgres(),
      startMockProvider({ openaiApiKey: OPENAI_UPSTREAM_KEY, outputTokens: 20 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), postgres?.close(), mock?.close()]);
  });

  it('every request once in the ledger, rollups = ledger = /admin/usage = served; an outage loses no budgeting and no history', async () => {
    const prefix = `pgh-${randomUUID()}`;
    const historyUrl = await postgres.createDatabase();
    const config = `${gatewayConfig({
      mockUrl: mock.url,
      store: `type: redis, url: "${redis.url}", prefix: "${prefix}", timeout_ms: 5000`,
      budgets: [`- { id: shared, scope: global, limit_usd: ${LIMIT_USD}, period: none }`],
      maxOutputTokens: 64,
    })}
admin: { token: "${ADMIN_TOKEN}" }
history: { store: postgres, url: "${historyUrl}", flush_interval_ms: 200, flush_max_records: 100 }
`;
    const gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(config)));
    const budget = new RedisStore({ url: redis.url, prefix, timeoutMs: 5000 });
    let db = new pg.Client({ connectionString: historyUrl });
    const ids: string[] = [];
    let sent = 0;
    /** `n` requests, CONCURRENCY at a time, round-robin over the gateways and keys; every one 200. */
    const load = async (n: number) => {
      const statuses: number[] = [];
      const one = async () => {
        const i = sent++;
        const stream = i % 3 === 0;
        const res = await fetch(`${gateways[i % 3]!.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEYS[i % KEYS.length]}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: i % 2 === 0 ? 'gpt-4o-mini' : 'gpt-4o',
            messages: [{ role: 'user', content: `request ${i}` }],
            max_tokens: 32,
            ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
          }),
        });
        await res.text();
        statuses.push(res.status);
        const id = res.headers.get('x-gateway-request-id');
        if (id) ids.push(id);
      };
      let left = n;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (left-- > 0) await one();
        }),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    };
    const spent = async () => (await budget.balances([lineOf('shared', LIMIT_USD)]))[0]!.spentNano;
    const ledgerCounts = async () => {
      const { rows } = await db.query<{ n: string; ids: string; cost: string }>(
        'SELECT count(*) AS n, count(DISTINCT request_id) AS ids, coalesce(sum(cost_nano), 0) AS cost FROM request_ledger',
      );
      return { rows: Number(rows[0]!.n), ids: Number(rows[0]!.ids), costNano: Number(rows[0]!.cost) };
    };
    const rollupTotals = async () => {
      const { rows } = await db.query<{ n: string; cost: string }>(
        'SELECT coalesce(sum(requests), 0) AS n, coalesce(sum(cost_nano), 0) AS cost FROM usage_hourly',
      );
      return { requests: Number(rows[0]!.n), costNano: Number(rows[0]!.cost) };
    };
    const usage = async (gatewayUrl: string) => {
      const from = new Date(Date.now() - 2 * 3_600_000).toISOString();
      const res = await fetch(`${gatewayUrl}/admin/usage?from=${from}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { total: { requests: number; cost_nano: number } }).total;
    };
    const historyMatches = async (requests: number) => {
      const ledger = await ledgerCounts();
      expect(ledger).toEqual({ rows: requests, ids: requests, costNano: totalServedCost(mock.served) });
      expect(await rollupTotals()).toEqual({ requests, costNano: ledger.costNano });
    };

    try {
      await db.connect();
      // Under load: 300 requests over three gateways.
      await load(300);
      await eventually(() => historyMatches(300), 20_000);
      const { rows } = await db.query<{ request_id: string }>('SELECT request_id FROM request_ledger');
      expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(ids));
      for (const g of gateways) {
        expect(await usage(g.url)).toMatchObject({ requests: 300, cost_nano: totalServedCost(mock.served) });
      }
      console.log(
        `postgres history: 300 requests, ledger and rollups exact, cost ${totalServedCost(mock.served)} nano-USD`,
      );

      // Postgres down mid-load: budgeting goes on.
      await db.end();
      await postgres.stop();
      const before = await spent();
      await load(150);
      // A stream's settle lands just after its last byte reached the client: wait for it, not a time.
      await eventually(async () => expect(await spent()).toBe(totalServedCost(mock.served)), 5_000);
      expect(await spent()).toBeGreaterThan(before);

      // Back: the buffered history lands, each request once.
      await postgres.start();
      db = new pg.Client({ connectionString: historyUrl });
      await db.connect();
      await eventually(() => historyMatches(450), 30_000);
      for (const g of gateways) {
        expect(await usage(g.url)).toMatchObject({ requests: 450, cost_nano: totalServedCost(mock.served) });
        const metrics = await (await fetch(`${g.url}/metrics`)).text();
        expect(metricValue(metrics, 'llm_gateway_history_dropped_total')).toBe(0);
      }
      const { rows: all } = await db.query<{ request_id: string }>('SELECT request_id FROM request_ledger');
      expect(all).toHaveLength(450);
      expect(new Set(all.map((r) => r.request_id))).toEqual(new Set(ids));
      console.log(
        'postgres history: 150 more requests during the outage, all 200, history landed once (450)',
      );
    } finally {
      await db.end().catch(() => {});
      await budget.close();
      await Promise.all(gateways.map((g) => g.stop()));
    }
  }, 180_000);
});
