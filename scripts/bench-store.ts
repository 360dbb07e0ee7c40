/**
 * Budget store latency and throughput: `npx tsx scripts/bench-store.ts`.
 *
 * For each store, reserve+settle of one request on three lines (key, team, global budgets):
 * p50/p99 of the pair sequentially and at concurrency 64. For Redis, also what one Redis core
 * sustains: reservations (reserve + settle) per second of redis-server CPU time, measured from
 * /proc while several clients push it. A local redis-server is started on a free port.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisStore } from '../src/store/redis.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { BudgetStore, LineSpec } from '../src/store/types.js';
import { startRedis } from '../test/helpers/redis.js';

const LINES: LineSpec[] = ['key:web-app', 'team:web', 'global'].map((instance) => ({
  instance,
  budgetId: instance,
  period: '2026-11',
  previousPeriod: '2026-10',
  limitNano: 1e15,
  rolloverMaxNano: 1e11,
  downgradeAtNano: -1,
  ttlSeconds: 40 * 86400,
}));

let seq = 0;
async function pair(store: BudgetStore): Promise<number> {
  const id = `bench-${process.pid}-${seq++}`;
  const started = performance.now();
  const now = Date.now();
  const r = await store.reserve({
    reservationId: id,
    lines: LINES,
    fixedPico: 1200 * 2_500_000,
    outputPico: 10_000_000,
    requestedCap: 1024,
    minCap: 1,
    nowMs: now,
    leaseExpiresAtMs: now + 120_000,
  });
  if (r.status !== 'reserved') throw new Error(`unexpected ${r.status}`);
  await store.settle(id, Math.floor(r.amountNano / 2), now);
  return performance.now() - started;
}

function pct(sorted: number[], p: number): string {
  const v = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  return `${v.toFixed(3)} ms`;
}

async function run(store: BudgetStore, total: number, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) latencies.push(await pair(store));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), perSecond: Math.round(total / seconds) };
}

async function bench(name: string, store: BudgetStore): Promise<void> {
  await run(store, 500, 8); // warm-up
  const sequential = await run(store, 3000, 1);
  const concurrent = await run(store, 10_000, 64);
  console.log(`${name}  reserve+settle (3 lines)`);
  console.log(
    `  sequential      p50 ${sequential.p50}  p99 ${sequential.p99}  ${sequential.perSecond} pairs/s`,
  );
  console.log(
    `  concurrency 64  p50 ${concurrent.p50}  p99 ${concurrent.p99}  ${concurrent.perSecond} pairs/s`,
  );
}

/** utime + stime of a process in seconds (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const sqlite = new SqliteStore({ path: join(dir, 'budget.db') });
  await bench('sqlite (file, WAL, synchronous=NORMAL)', sqlite);
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });

  const redis = await startRedis();
  try {
    const store = new RedisStore({ url: redis.url, prefix: 'bench', timeoutMs: 5000 });
    await bench('redis (local, auto-pipelined EVALSHA)', store);

    // One Redis core: several client connections keep redis-server busy; count its CPU time.
    const clients = [
      store,
      ...Array.from(
        { length: 3 },
        () => new RedisStore({ url: redis.url, prefix: 'bench', timeoutMs: 5000 }),
      ),
    ];
    const pid = redis.pid();
    if (pid === undefined) throw new Error('no redis pid');
    const cpuBefore = cpuSeconds(pid);
    const wallStarted = performance.now();
    const pairs = 40_000;
    await Promise.all(clients.map((c) => run(c, pairs / clients.length, 128)));
    const wall = (performance.now() - wallStarted) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    console.log('redis ceiling');
    console.log(
      `  ${pairs} reserve+settle pairs in ${wall.toFixed(2)} s wall (${Math.round(pairs / wall)}/s, client-bound here)`,
    );
    console.log(
      `  redis-server CPU ${cpu.toFixed(2)} s: ${Math.round(pairs / cpu)} reservations/s per Redis core ` +
        `(${Math.round((2 * pairs) / cpu)} script calls/s)`,
    );
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await redis.close();
  }
}

await main();
