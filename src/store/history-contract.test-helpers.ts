/**
 * The history store contract, run on every implementation (history.test.ts: SQLite, Redis and
 * Postgres): rollups add up across writes and instances, money stays exact, the ledger reads back
 * every field (the agent session included) in time order across pages in [from, to), ranges are
 * half-open, retention prunes.
 */
import { expect, it } from 'vitest';
import { collect, HOUR, requestRecord } from '../../test/analytics/fixtures.js';
import { ledgerEntryOf, rollupsOf } from '../analytics/records.js';
import type { HistoryStore } from './history.js';

const BASE = Date.UTC(2030, 2, 15, 0);
const DAY = 24 * HOUR;
const RETENTION = { rollupMs: 400 * DAY, ledgerMs: 90 * DAY };

export interface HistoryKind {
  name: string;
  /** Two handles on one fresh history (two instances), reading in pages of `pageSize`. */
  open(pageSize?: number): Promise<{ a: HistoryStore; b: HistoryStore }>;
}

/** Registers the contract's tests (call inside a describe) for one implementation. */
export function historyContract(kind: HistoryKind): void {
  it('rollups of two writes and two instances add up per hour and dimensions', async () => {
    const { a, b } = await kind.open();
    try {
      const at = (h: number, fields = {}) => requestRecord({ timeMs: BASE + h * HOUR + 60_000, ...fields });
      const first = [
        at(1),
        at(1),
        at(1, { model: 'x', servedModel: 'gpt-4o-mini' }),
        at(2, { outputTokens: 900 }),
      ];
      const second = [at(1), at(1, { keyId: 'bravo', team: 'data', user: null, status: 429, costNano: 0 })];
      await a.write(rollupsOf(first.map(ledgerEntryOf)), [], RETENTION);
      await b.write(rollupsOf(second.map(ledgerEntryOf)), [], RETENTION);
      const rows = await collect(a.rollups(BASE, BASE + 3 * HOUR));
      const find = (hour: number, key: string, model: string) =>
        rows.find((r) => r.hourMs === BASE + hour * HOUR && r.key === key && r.model === model);
      expect(find(1, 'alpha', 'gpt-4o')).toMatchObject({
        requests: 3,
        inputTokens: 300,
        costNano: 3 * 750_000,
        short: true,
      });
      expect(find(1, 'alpha', 'gpt-4o-mini')).toMatchObject({ requests: 1 });
      expect(find(1, 'bravo', 'gpt-4o')).toMatchObject({
        requests: 1,
        errors: 1,
        costNano: 0,
        user: '',
        team: 'data',
      });
      expect(find(2, 'alpha', 'gpt-4o')).toMatchObject({ requests: 1, outputTokens: 900, short: false });
      expect(rows).toHaveLength(4);
      // Half-open ranges: hour 2 is outside [0, 2h).
      expect((await collect(b.rollups(BASE, BASE + 2 * HOUR))).every((r) => r.hourMs === BASE + HOUR)).toBe(
        true,
      );
      expect(await a.firstHour()).toBe(BASE + HOUR);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('money sums stay exact integers far past a float cent', async () => {
    const { a, b } = await kind.open();
    try {
      const big = requestRecord({ timeMs: BASE, costNano: 2 ** 50 + 1 });
      await a.write(rollupsOf([ledgerEntryOf(big)]), [], RETENTION);
      await b.write(rollupsOf([ledgerEntryOf({ ...big, costNano: 3 })]), [], RETENTION);
      const [row] = await collect(a.rollups(BASE, BASE + HOUR));
      expect(row?.costNano).toBe(2 ** 50 + 4);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('the ledger reads back every field, in time order, across pages, in [from, to)', async () => {
    const { a, b } = await kind.open(3);
    try {
      const records = Array.from({ length: 10 }, (_, i) =>
        requestRecord({
          timeMs: BASE + HOUR + i * 600_000, // every 10 minutes, over two hours
          user: i === 4 ? 'O\'Brien, "Bob"' : 'alice',
          errorCode: i === 7 ? 'budget_exceeded' : null,
          status: i === 7 ? 429 : 200,
          downgraded: i === 3,
          clamped: i === 5,
          stream: i % 2 === 0,
          session: i % 3 === 0 ? `8f0e2c1a-5b7d-4e3f-9a61-2d4c8b7e0f1${i}` : i === 1 ? null : undefined,
        }),
      );
      const entries = records.map(ledgerEntryOf);
      await a.write([], entries.slice(0, 6), RETENTION);
      await b.write([], entries.slice(6), RETENTION);
      expect(await collect(a.ledger(BASE, BASE + DAY))).toEqual(entries);
      // from is inclusive, to exclusive.
      const middle = await collect(b.ledger(entries[2]!.timeMs, entries[8]!.timeMs));
      expect(middle.map((e) => e.requestId)).toEqual(entries.slice(2, 8).map((e) => e.requestId));
      expect(middle[2]).toMatchObject({ user: 'O\'Brien, "Bob"', latencyMs: 12, session: null });
      expect(middle[1]).toMatchObject({ session: '8f0e2c1a-5b7d-4e3f-9a61-2d4c8b7e0f13' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('prune drops what is older than the retention and keeps the rest', async () => {
    const { a, b } = await kind.open();
    try {
      const old = requestRecord({ timeMs: BASE - 100 * DAY });
      const recent = requestRecord({ timeMs: BASE - 10 * DAY });
      const entries = [old, recent].map(ledgerEntryOf);
      await a.write(rollupsOf(entries), entries, RETENTION);
      expect(await a.firstHour()).toBe(BASE - 100 * DAY);

      const removed = await b.prune(BASE - 50 * DAY, BASE - 50 * DAY);
      expect(removed.rollups).toBeGreaterThan(0);
      expect(removed.ledger).toBeGreaterThan(0);
      const ledger = await collect(a.ledger(0, BASE));
      expect(ledger.map((e) => e.requestId)).toEqual([recent.requestId]);
      const rows = await collect(a.rollups(0, BASE));
      expect(rows.map((r) => r.hourMs)).toEqual([BASE - 10 * DAY]);
      expect(await a.firstHour()).toBe(BASE - 10 * DAY);
      // Nothing left to prune: a second pass removes nothing.
      expect(await b.prune(BASE - 50 * DAY, BASE - 50 * DAY)).toEqual({ rollups: 0, ledger: 0 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}
