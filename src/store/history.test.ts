/**
 * The history stores (SQLite file, real Redis, real Postgres 15) behind one contract
 * (history-contract.test-helpers.ts); and the recorder: batches off the request path, kept while
 * the store is down, retried with back-off, bounded.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { collect, HOUR, requestRecord, USD } from '../../test/analytics/fixtures.js';
import { type StartedPostgres, startPostgres } from '../../test/helpers/postgres.js';
import { type StartedRedis, startRedis } from '../../test/helpers/redis.js';
import { MAX_BACKOFF_MS, Recorder, type RecorderSettings } from '../analytics/recorder.js';
import { ledgerEntryOf } from '../analytics/records.js';
import type { HistoryStore, LedgerEntry, RollupRow } from './history.js';
import { type HistoryKind, historyContract } from './history-contract.test-helpers.js';
import { PostgresHistoryStore } from './postgres/history.js';
import { RedisHistoryStore } from './redis/history.js';
import { SqliteHistoryStore } from './sqlite/history.js';

const BASE = Date.UTC(2030, 2, 15, 0);
const DAY = 24 * HOUR;
const RETENTION = { rollupMs: 400 * DAY, ledgerMs: 90 * DAY };

let redis: StartedRedis;
let postgres: StartedPostgres;
let dir: string;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  dir = mkdtempSync(join(tmpdir(), 'llmgw-history-'));
});
afterAll(async () => {
  await Promise.all([redis?.close(), postgres?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kinds: HistoryKind[] = [
  {
    name: 'sqlite',
    async open(pageSize) {
      const path = join(dir, `${randomUUID()}.db`);
      return { a: new SqliteHistoryStore({ path, pageSize }), b: new SqliteHistoryStore({ path, pageSize }) };
    },
  },
  {
    name: 'redis',
    async open(pageSize) {
      const prefix = `h-${randomUUID()}`;
      const make = () => new RedisHistoryStore({ url: redis.url, prefix, timeoutMs: 5000, pageSize });
      return { a: make(), b: make() };
    },
  },
  {
    name: 'postgres',
    async open(pageSize) {
      const url = await postgres.createDatabase();
      const make = () => new PostgresHistoryStore({ url, timeoutMs: 5000, pageSize });
      return { a: make(), b: make() };
    },
  },
];

describe.each(kinds)('$name history store', (kind) => {
  historyContract(kind);
});

describe('sqlite history made by an older gateway', () => {
  it('gets the session column at start-up; its old rows read back with no session', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const old = new Database(path);
    // The ledger as the first release made it: no session column.
    old.exec(`CREATE TABLE request_ledger (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
      request_id TEXT NOT NULL, endpoint TEXT NOT NULL, key_id TEXT, user TEXT, team TEXT,
      requested_model TEXT, served_model TEXT, provider TEXT, stream INTEGER NOT NULL,
      status INTEGER NOT NULL, error_code TEXT, input_tokens INTEGER NOT NULL,
      cached_input_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
      output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, cost_nano INTEGER NOT NULL,
      estimate_nano INTEGER NOT NULL, latency_ms INTEGER NOT NULL, downgraded INTEGER NOT NULL,
      clamped INTEGER NOT NULL, settlement TEXT NOT NULL);
      INSERT INTO request_ledger VALUES (1, ${BASE}, 'req_old', '/v1/messages', 'alpha', 'alice', 'web',
      'm', 'm', 'anthropic', 1, 200, NULL, 1, 0, 0, 1, 0, 5, 6, 7, 0, 0, 'usage');`);
    old.close();
    const store = new SqliteHistoryStore({ path });
    try {
      const entry = ledgerEntryOf(requestRecord({ timeMs: BASE + 1, session: 'sess-1' }));
      await store.write([], [entry], RETENTION);
      const read = await collect(store.ledger(BASE, BASE + HOUR));
      expect(read.map((e) => [e.requestId, e.session])).toEqual([
        ['req_old', null],
        [entry.requestId, 'sess-1'],
      ]);
    } finally {
      await store.close();
    }
  });
});

describe('recorder', () => {
  const settings =
    (overrides: Partial<RecorderSettings> = {}) =>
    () => ({
      flushIntervalMs: 60_000,
      maxBatch: 500,
      retention: RETENTION,
      ...overrides,
    });

  /** Counts write calls: the recorder must batch, not write per request. */
  function counting(store: HistoryStore) {
    const calls: number[] = [];
    const wrapped: HistoryStore = Object.create(store);
    wrapped.write = (rollups, ledger, retention) => {
      calls.push(ledger.length);
      return store.write(rollups, ledger, retention);
    };
    return { store: wrapped, calls };
  }

  it('buffers records and writes them as one batch per flush', async () => {
    const path = join(dir, `${randomUUID()}.db`);
    const real = new SqliteHistoryStore({ path });
    const { store, calls } = counting(real);
    const recorder = new Recorder({ store, settings: settings(), pruneIntervalMs: 0 });
    try {
      for (let i = 0; i < 200; i++) recorder.record(requestRecord({ timeMs: BASE + i * 1000 }));
      expect(calls).toEqual([]); // nothing written on the request path
      expect(recorder.pending).toBe(200);
      await recorder.flush();
      expect(calls).toEqual([200]);
      const [row] = await collect(real.rollups(BASE, BASE + HOUR));
      expect(row).toMatchObject({ requests: 200, costNano: 200 * 750_000 });
    } finally {
      await recorder.close();
      await real.close();
    }
  });

  it('a full batch is written without waiting for the timer, in batches of maxBatch', async () => {
    const real = new SqliteHistoryStore({ path: join(dir, `${randomUUID()}.db`) });
    const { store, calls } = counting(real);
    const recorder = new Recorder({ store, settings: settings({ maxBatch: 50 }), pruneIntervalMs: 0 });
    try {
      for (let i = 0; i < 120; i++) recorder.record(requestRecord({ timeMs: BASE + i }));
      // The full buffer schedules a flush on the next turn of the event loop, not on the timer.
      await new Promise((resolve) => setImmediate(resolve));
      await recorder.flush();
      expect(calls).toEqual([50, 50, 20]);
      expect(await collect(real.ledger(BASE, BASE + HOUR))).toHaveLength(120);
    } finally {
      await recorder.close();
      await real.close();
    }
  });

  it('keeps its batch while Redis is down and writes it once when Redis is back', async () => {
    const own = await startRedis();
    const store = new RedisHistoryStore({ url: own.url, prefix: 'down', timeoutMs: 500 });
    const errors: string[] = [];
    const recorder = new Recorder({
      store,
      settings: settings(),
      pruneIntervalMs: 0,
      onError: (operation) => errors.push(operation),
    });
    try {
      await own.stop();
      for (let i = 0; i < 30; i++) recorder.record(requestRecord({ timeMs: BASE + i * 1000, costNano: USD }));
      await expect(recorder.flush()).rejects.toThrow();
      expect(errors).toEqual(['write']);
      expect(recorder.pending).toBe(30);
      await own.restart();
      await recorder.flush();
      expect(recorder.pending).toBe(0);
      const rows = await collect(store.rollups(BASE, BASE + HOUR));
      expect(rows).toMatchObject([{ requests: 30, costNano: 30 * USD }]);
      expect(await collect(store.ledger(BASE, BASE + HOUR))).toHaveLength(30);
    } finally {
      await recorder.close();
      await store.close();
      await own.close();
    }
  });

  /** A store that fails while `down` is true and counts write attempts. */
  function flaky() {
    const state = { down: true, attempts: 0, written: [] as LedgerEntry[] };
    const store = {
      kind: 'postgres',
      async write(_rollups: readonly RollupRow[], ledger: readonly LedgerEntry[]) {
        state.attempts++;
        if (state.down) throw new Error('connection refused');
        state.written.push(...ledger);
      },
    } as unknown as HistoryStore;
    return { store, state };
  }

  it('while the store is down: retries back off, a full buffer does not hurry them, past the bound records are dropped and counted', async () => {
    vi.useFakeTimers();
    const { store, state } = flaky();
    const dropped: number[] = [];
    const recorder = new Recorder({
      store,
      settings: settings({ flushIntervalMs: 1000, maxBatch: 10, maxBuffered: 25 }),
      pruneIntervalMs: 0,
      onDropped: (n) => dropped.push(n),
    });
    try {
      const times: number[] = [];
      const start = Date.now();
      const wrapped = store.write.bind(store);
      store.write = (...args) => {
        times.push(Date.now() - start);
        return wrapped(...args);
      };
      for (let i = 0; i < 5; i++) recorder.record(requestRecord({ timeMs: BASE + i }));
      await vi.advanceTimersByTimeAsync(1000); // first timed attempt fails
      expect(times).toEqual([1000]);
      // A full batch while backing off waits for the retry timer.
      for (let i = 0; i < 15; i++) recorder.record(requestRecord({ timeMs: BASE + i }));
      await vi.advanceTimersByTimeAsync(0);
      expect(times).toEqual([1000]);
      await vi.advanceTimersByTimeAsync(40_000);
      // 1 s, then 2, 4, 8 s, then at most MAX_BACKOFF_MS apart.
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(gaps.slice(0, 4)).toEqual([2000, 4000, 8000, MAX_BACKOFF_MS]);
      expect(gaps.every((g) => g <= MAX_BACKOFF_MS)).toBe(true);
      // The bound: 20 buffered + 10 more = 30 > 25, the 5 oldest go.
      for (let i = 0; i < 10; i++) recorder.record(requestRecord({ timeMs: BASE + 100 + i }));
      expect(recorder.pending).toBe(25);
      expect(recorder.dropped).toBe(5);
      expect(dropped.reduce((a, b) => a + b, 0)).toBe(5);
      // Back up: the next retry writes all 25, in order, and the interval is back to 1 s.
      state.down = false;
      await vi.advanceTimersByTimeAsync(MAX_BACKOFF_MS);
      expect(recorder.pending).toBe(0);
      expect(state.written).toHaveLength(25);
      expect(recorder.consecutiveFailures).toBe(0);
      const attempts = state.attempts;
      recorder.record(requestRecord({ timeMs: BASE }));
      await vi.advanceTimersByTimeAsync(1000);
      expect(state.attempts).toBe(attempts + 1);
    } finally {
      await recorder.close();
      vi.useRealTimers();
    }
  });

  it('prune applies the configured retention from the given time', async () => {
    const store = new SqliteHistoryStore({ path: join(dir, `${randomUUID()}.db`) });
    const recorder = new Recorder({
      store,
      settings: settings({ retention: { rollupMs: 30 * DAY, ledgerMs: 7 * DAY } }),
      pruneIntervalMs: 0,
    });
    try {
      for (const days of [40, 20, 1]) recorder.record(requestRecord({ timeMs: BASE - days * DAY }));
      await recorder.flush();
      await recorder.prune(BASE);
      // Rollups keep 30 days (20 and 1 days old); the ledger keeps 7 (1 day old).
      expect((await collect(store.rollups(0, BASE))).map((r) => (BASE - r.hourMs) / DAY)).toEqual([20, 1]);
      expect((await collect(store.ledger(0, BASE))).map((e) => (BASE - e.timeMs) / DAY)).toEqual([1]);
    } finally {
      await recorder.close();
      await store.close();
    }
  });
});
