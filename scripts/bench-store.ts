/**
 * Budget store latency and throughput: `npx tsx scripts/bench-store.ts`.
 *
 * For each store, reserve+settle of one request on four lines (key, team, per-user, global
 * budgets): p50/p99 of the pair sequentially and at concurrency 64 (the same measurement
 * `npm run bench` reports). For Redis, also what one Redis core sustains: reservations (reserve +
 * settle) per second of redis-server CPU time, measured from /proc while several clients push it.
 * A local redis-server is started on a free port.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { RedisStore } from '../src/store/redis/budget.js';
import { SqliteStore } from '../src/store/sqlite/budget.js';
import { startRedis } from '../test/helpers/redis.js';
import { pairs, storeLatencies } from './bench/micro.js';
import { type OpFigure, storeOps } from './bench/store-ops.js';

function printOps(name: string, figures: OpFigure[]): void {
  console.log(`${name}  one operation at a time (4 lines; each is one round trip)`);
  for (const f of figures) {
    const cpu =
      f.serverCpuMicros === undefined ? '' : `  redis-server CPU ${f.serverCpuMicros.toFixed(1)} µs/op`;
    console.log(
      `  ${f.op.padEnd(19)} p50 ${f.latency.p50.toFixed(3)} ms  p99 ${f.latency.p99.toFixed(3)} ms${cpu}`,
    );
  }
}

/** utime + stime of a process in seconds (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100
}

async function main(): Promise<void> {
  const dir = mkdtempSync(`${tmpdir()}/gw-bench-`);
  const redis = await startRedis();
  try {
    for (const figure of await storeLatencies(dir, redis.url, 3000)) {
      const { sequential: s, concurrent: c } = figure;
      console.log(`${figure.store}  reserve+settle (${figure.lines} lines)`);
      console.log(`  sequential      p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms`);
      console.log(
        `  concurrency 64  p50 ${c.p50.toFixed(3)} ms  p99 ${c.p99.toFixed(3)} ms  ${figure.pairsPerSecond} pairs/s`,
      );
    }

    // Issue #17's operations (metered streams, waiting), one at a time.
    const sqlite = new SqliteStore({ path: `${dir}/ops.db` });
    printOps('sqlite', await storeOps(sqlite, 2000));
    await sqlite.close();
    const opsStore = new RedisStore({ url: redis.url, prefix: 'ops', timeoutMs: 5000 });
    const serverPid = redis.pid();
    printOps(
      'redis',
      await storeOps(opsStore, 2000, serverPid === undefined ? undefined : () => cpuSeconds(serverPid)),
    );
    await opsStore.close();

    // One Redis core: several client connections keep redis-server busy; count its CPU time.
    const clients = Array.from(
      { length: 4 },
      () => new RedisStore({ url: redis.url, prefix: 'bench', timeoutMs: 5000 }),
    );
    const pid = redis.pid();
    if (pid === undefined) throw new Error('no redis pid');
    const cpuBefore = cpuSeconds(pid);
    const wallStarted = performance.now();
    const total = 40_000;
    await Promise.all(clients.map((c) => pairs(c, total / clients.length, 128)));
    const wall = (performance.now() - wallStarted) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    console.log('redis ceiling');
    console.log(
      `  ${total} reserve+settle pairs in ${wall.toFixed(2)} s wall (${Math.round(total / wall)}/s, client-bound here)`,
    );
    console.log(
      `  redis-server CPU ${cpu.toFixed(2)} s: ${Math.round(total / cpu)} reservations/s per Redis core ` +
        `(${Math.round((2 * total) / cpu)} script calls/s)`,
    );
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
