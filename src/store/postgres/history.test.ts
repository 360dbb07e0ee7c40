/**
 * What only the Postgres history does (the shared contract is in ../history.test.ts): migrations
 * run once when gateways start together, retention drops whole partitions, a retried batch counts
 * nothing twice, the recorder's batches survive a Postgres outage and land once, and the bytes a
 * ledger row and a rollup row take (docs/history.md quotes these figures).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, HOUR, requestRecord, USD } from '../../../test/analytics/fixtures.js';
import { metricValue } from '../../../test/e2e/fixtures.js';
import { freePort } from '../../../test/helpers/ports.js';
import { type StartedPostgres, startPostgres } from '../../../test/helpers/postgres.js';
import { startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { Recorder } from '../../analytics/recorder.js';
import { ledgerEntryOf, rollupsOf } from '../../analytics/records.js';
import { StoreUnavailableError } from '../types.js';
import { PostgresHistoryStore } from './history.js';
import { listPartitions, MIGRATIONS } from './schema.js';

const BASE = Date.UTC(2030, 2, 15, 0);
const DAY = 24 * HOUR;
const RETENTION = { rollupMs: 400 * DAY, ledgerMs: 90 * DAY };

let server: StartedPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.close();
});

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe('postgres history store', () => {
  it('six gateways starting at once migrate once', async () => {
    const url = await server.createDatabase();
    const stores = Array.from({ length: 6 }, () => new PostgresHistoryStore({ url, timeoutMs: 10_000 }));
    try {
      await Promise.all(stores.map((s) => s.ready()));
      const rows = await sql<{ version: number }>(
        url,
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // And every one of them writes (partitions created once, under the lock, by whoever is first).
      await Promise.all(
        stores.map((s, i) => {
          const entry = ledgerEntryOf(requestRecord({ timeMs: BASE + i * 60_000 }));
          return s.write(rollupsOf([entry]), [entry], RETENTION);
        }),
      );
      const [row] = await collect(stores[0]!.rollups(BASE, BASE + HOUR));
      expect(row).toMatchObject({ requests: 6 });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a batch written twice (its answer lost) is in the ledger and the rollups once', async () => {
    const url = await server.createDatabase();
    const store = new PostgresHistoryStore({ url, timeoutMs: 5000 });
    try {
      const batch = Array.from({ length: 40 }, (_, i) =>
        ledgerEntryOf(requestRecord({ timeMs: BASE + i * 1000, costNano: USD + i })),
      );
      await store.write(rollupsOf(batch), batch, RETENTION);
      await store.write(rollupsOf(batch), batch, RETENTION);
      // A batch that overlaps: only its new half is added.
      const more = [
        ...batch.slice(20),
        ...Array.from({ length: 5 }, () => ledgerEntryOf(requestRecord({ timeMs: BASE + HOUR + 5 }))),
      ];
      await store.write(rollupsOf(more), more, RETENTION);
      expect(await collect(store.ledger(BASE, BASE + DAY))).toHaveLength(45);
      const rows = await collect(store.rollups(BASE, BASE + DAY));
      expect(rows.map((r) => [r.hourMs - BASE, r.requests])).toEqual([
        [0, 40],
        [HOUR, 5],
      ]);
      expect(rows[0]!.costNano).toBe(batch.reduce((s, e) => s + e.costNano, 0));
    } finally {
      await store.close();
    }
  });

  it('prune drops whole partitions and deletes the older rows of the partition it cuts', async () => {
    const url = await server.createDatabase();
    const store = new PostgresHistoryStore({ url, timeoutMs: 5000 });
    try {
      // Ledger: 5 days, 4 entries a day (at 0h, 6h, 12h, 18h); rollups: three months.
      const entries = Array.from({ length: 20 }, (_, i) =>
        ledgerEntryOf(requestRecord({ timeMs: BASE + Math.floor(i / 4) * DAY + (i % 4) * 6 * HOUR })),
      );
      const old = [Date.UTC(2030, 0, 10), Date.UTC(2030, 1, 10)].map((t) =>
        ledgerEntryOf(requestRecord({ timeMs: t })),
      );
      await store.write(rollupsOf([...old, ...entries]), entries, RETENTION);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const names = async (table: 'request_ledger' | 'usage_hourly') =>
          (await listPartitions(client, table)).map((p) => p.name);
        // Each day's partition and the next one, created ahead.
        expect(await names('request_ledger')).toEqual([
          'request_ledger_20300315',
          'request_ledger_20300316',
          'request_ledger_20300317',
          'request_ledger_20300318',
          'request_ledger_20300319',
          'request_ledger_20300320',
        ]);
        expect(await names('usage_hourly')).toEqual([
          'usage_hourly_203001',
          'usage_hourly_203002',
          'usage_hourly_203003',
          'usage_hourly_203004',
        ]);
        // Cut the ledger on day 2 at 12:00 and the rollups on 2030-02-15: January's partition goes,
        // February's stays without its row of the 10th.
        const removed = await store.prune(Date.UTC(2030, 1, 15), BASE + 2 * DAY + 12 * HOUR);
        expect(removed).toEqual({ rollups: 2, ledger: 4 + 4 + 2 });
        expect(await names('request_ledger')).toEqual([
          'request_ledger_20300317',
          'request_ledger_20300318',
          'request_ledger_20300319',
          'request_ledger_20300320',
        ]);
        expect(await names('usage_hourly')).toEqual([
          'usage_hourly_203002',
          'usage_hourly_203003',
          'usage_hourly_203004',
        ]);
        const left = await collect(store.ledger(0, BASE + 10 * DAY));
        expect(left.map((e) => e.timeMs)).toEqual(entries.slice(10).map((e) => e.timeMs));
        expect(await store.firstHour()).toBe(BASE);
        // Writing into a day whose partition is gone creates it again.
        const late = ledgerEntryOf(requestRecord({ timeMs: BASE + 10 * 60_000 }));
        await store.write(rollupsOf([late]), [late], RETENTION);
        expect(await names('request_ledger')).toContain('request_ledger_20300315');
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });

  it('is unavailable, fast, while Postgres is down; the recorder keeps its batch and lands it once', async () => {
    const own = await startPostgres();
    const url = await own.createDatabase();
    const store = new PostgresHistoryStore({ url, timeoutMs: 2000 });
    const errors: string[] = [];
    const recorder = new Recorder({
      store,
      settings: () => ({ flushIntervalMs: 60_000, maxBatch: 500, retention: RETENTION }),
      pruneIntervalMs: 0,
      onError: (operation) => errors.push(operation),
    });
    try {
      await store.ready();
      await own.stop();
      for (let i = 0; i < 30; i++) recorder.record(requestRecord({ timeMs: BASE + i * 1000, costNano: USD }));
      const started = Date.now();
      await expect(recorder.flush()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(recorder.flush()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(errors).toEqual(['write', 'write']);
      expect(recorder.pending).toBe(30);
      expect(recorder.consecutiveFailures).toBe(2);
      await own.start();
      await recorder.flush();
      expect(recorder.pending).toBe(0);
      expect(recorder.consecutiveFailures).toBe(0);
      expect(await collect(store.rollups(BASE, BASE + HOUR))).toMatchObject([
        { requests: 30, costNano: 30 * USD },
      ]);
      expect(await collect(store.ledger(BASE, BASE + HOUR))).toHaveLength(30);
    } finally {
      await recorder.close();
      await store.close();
      await own.close();
    }
  });

  it('sizing: bytes per ledger row and per rollup row (pg_total_relation_size)', async () => {
    const url = await server.createDatabase();
    const store = new PostgresHistoryStore({ url, timeoutMs: 30_000 });
    try {
      // A day of traffic: 50 000 requests, 50 keys, 200 users, 5 teams, 4 models.
      const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5'];
      const N = 50_000;
      for (let start = 0; start < N; start += 5000) {
        const batch = Array.from({ length: 5000 }, (_, j) => {
          const i = start + j;
          return ledgerEntryOf(
            requestRecord({
              timeMs: BASE + Math.floor((i * DAY) / N),
              requestId: `req_${randomUUID().replaceAll('-', '')}`,
              keyId: `key-${i % 50}`,
              user: `user-${i % 200}@example.com`,
              team: `team-${i % 5}`,
              requestedModel: models[i % 4]!,
              servedModel: models[i % 4]!,
              inputTokens: 500 + (i % 3000),
              outputTokens: 100 + (i % 700),
              costNano: 1_000_000 + i,
            }),
          );
        });
        await store.write(rollupsOf(batch), batch, RETENTION);
      }
      await sql(url, 'VACUUM ANALYZE');
      const size = async (table: string) => {
        const [row] = await sql<{ bytes: string; rows: string }>(
          url,
          `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = $1::regclass) AS bytes,
                  (SELECT count(*) FROM ${table}) AS rows`,
          [table],
        );
        return { bytes: Number(row!.bytes), rows: Number(row!.rows) };
      };
      const ledger = await size('request_ledger');
      const rollups = await size('usage_hourly');
      const perLedgerRow = ledger.bytes / ledger.rows;
      const perRollupRow = rollups.bytes / rollups.rows;
      console.log(
        `postgres history sizing: ledger ${ledger.rows} rows ${ledger.bytes} bytes = ${perLedgerRow.toFixed(0)} B/row; ` +
          `rollups ${rollups.rows} rows ${rollups.bytes} bytes = ${perRollupRow.toFixed(0)} B/row`,
      );
      expect(ledger.rows).toBe(N);
      expect(perLedgerRow).toBeGreaterThan(100);
      expect(perLedgerRow).toBeLessThan(600);
      expect(perRollupRow).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('a gateway whose history Postgres is unreachable', () => {
  it('serves and budgets as usual; past buffer_max_entries, records are dropped and counted', async () => {
    const port = await freePort(); // nothing listens there
    const stack = await startStack({
      extraYaml: `budgets:
  - { id: all, scope: global, limit_usd: 10, period: none }
history: { store: postgres, url: "postgres://gw:pw-not-logged@127.0.0.1:${port}/gw", buffer_max_entries: 3, flush_interval_ms: 50 }`,
    });
    try {
      const client = stack.openai(TEST_KEY);
      for (let i = 0; i < 5; i++) {
        await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        });
      }
      const budget = (await (
        await fetch(`${stack.gateway.url}/v1/budget`, { headers: { authorization: `Bearer ${TEST_KEY}` } })
      ).json()) as { budgets: Array<{ id: string; spent_usd: number }> };
      const spent = budget.budgets.find((b) => b.id === 'all')!.spent_usd;
      expect(Math.round(spent * 1e9)).toBe(stack.records.reduce((s, r) => s + r.costNano, 0));
      expect(spent).toBeGreaterThan(0);
      const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
      expect(metricValue(metrics, 'llm_gateway_history_dropped_total')).toBe(2);
      expect(metrics).not.toContain('pw-not-logged');
    } finally {
      await stack.close();
    }
  });
});
