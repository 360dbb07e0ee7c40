/**
 * What each budget-store operation of issue #17 costs (`npx tsx scripts/bench-store.ts` prints it):
 * sequential latency of reserve, extend (one metered-stream slice), heartbeat (extend by 0),
 * a busy reserve that queues, abandonWait and settle, on four lines; for Redis also the
 * redis-server CPU per operation (what one Redis core pays). Each is one round trip.
 */
import type { BudgetStore, LineSpec } from '../../src/store/types.js';
import { type Summary, summarize } from './stats.js';

const LINES: LineSpec[] = ['key:ops', 'team:ops', 'per-user|user=ops', 'global:ops'].map((instance) => ({
  instance,
  budgetId: instance,
  period: '2026-11',
  previousPeriod: null,
  limitNano: 1e15,
  rolloverMaxNano: 0,
  downgradeAtNano: -1,
  ttlSeconds: 40 * 86400,
}));

/** A line whose money is all held, so a reserve on it is busy (and queues when it may wait). */
const FULL: LineSpec = { ...LINES[0]!, instance: 'full:ops', budgetId: 'full:ops', limitNano: 1_000_000 };

export type OpName = 'reserve' | 'extend' | 'heartbeat' | 'reserve busy+queue' | 'abandonWait' | 'settle';

export interface OpFigure {
  op: OpName;
  latency: Summary;
  /** redis-server CPU per operation, µs (Redis only). */
  serverCpuMicros?: number;
}

/**
 * Runs `count` of each operation in sequence (one after the other, so each figure is one round
 * trip plus the script); `cpu` reads the server's CPU seconds when there is one.
 */
export async function storeOps(store: BudgetStore, count: number, cpu?: () => number): Promise<OpFigure[]> {
  const run = Math.random().toString(36).slice(2);
  const now = Date.now();
  const lease = now + 600_000;
  await store.reserve({
    reservationId: `holder-${run}`,
    lines: [FULL],
    fixedPico: 1_000_000 * 1000,
    outputPico: 0,
    requestedCap: 0,
    minCap: 0,
    nowMs: now,
    leaseExpiresAtMs: lease,
  });
  const id = (i: number) => `ops-${run}-${i}`;
  const ops: Array<[OpName, (i: number) => Promise<unknown>]> = [
    [
      'reserve',
      (i) =>
        store.reserve({
          reservationId: id(i),
          lines: LINES,
          fixedPico: 40 * 150_000,
          outputPico: 600_000,
          requestedCap: 256,
          minCap: 256,
          nowMs: now,
          leaseExpiresAtMs: lease,
        }),
    ],
    [
      'extend',
      (i) =>
        store.extend({
          reservationId: id(i),
          addCap: 256,
          minAddCap: 16,
          nowMs: now,
          leaseExpiresAtMs: lease,
        }),
    ],
    [
      'heartbeat',
      (i) =>
        store.extend({ reservationId: id(i), addCap: 0, minAddCap: 0, nowMs: now, leaseExpiresAtMs: lease }),
    ],
    [
      'reserve busy+queue',
      (i) =>
        store.reserve({
          reservationId: `wait-${id(i)}`,
          lines: [...LINES, FULL],
          fixedPico: 1000,
          outputPico: 0,
          requestedCap: 0,
          minCap: 0,
          nowMs: now,
          leaseExpiresAtMs: lease,
          waitUntilMs: now + 60_000,
        }),
    ],
    ['abandonWait', (i) => store.abandonWait(`wait-${id(i)}`, [...LINES, FULL])],
    ['settle', (i) => store.settle(id(i), 1000)],
  ];
  const figures: OpFigure[] = [];
  for (const [op, call] of ops) {
    const latencies: number[] = [];
    const cpuBefore = cpu?.();
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await call(i);
      latencies.push(performance.now() - started);
    }
    const figure: OpFigure = { op, latency: summarize(latencies) };
    if (cpu && cpuBefore !== undefined) figure.serverCpuMicros = ((cpu() - cpuBefore) * 1e6) / count;
    figures.push(figure);
  }
  await store.release(`holder-${run}`);
  return figures;
}
