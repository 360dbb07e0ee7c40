import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { line } from '../../src/store/contract.test-helpers.js';
import { SqliteStore } from '../../src/store/sqlite/budget.js';

const HAMMER = fileURLToPath(new URL('./sqlite-hammer.ts', import.meta.url));

interface WorkerReport {
  reserved: number;
  rejected: number;
  settledSmall: number;
  settledShared: number;
}

function runWorker(
  path: string,
  worker: number,
  count: number,
  limit: number,
  startAt: number,
): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', HAMMER, path, String(worker), String(count), String(limit), String(startAt)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker ${worker} exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim()) as WorkerReport);
    });
  });
}

describe('sqlite store shared by several processes', () => {
  it('three processes hammering one file never overspend and their totals add up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sqlite-mp-'));
    const path = join(dir, 'budget.db');
    const limit = 1_500_000; // nano; each worker alone would blow through it
    try {
      // create the schema once up front so the workers do not race on it
      await new SqliteStore({ path }).close();
      const startAt = Date.now() + 2000; // after every worker has loaded
      const reports = await Promise.all([0, 1, 2].map((w) => runWorker(path, w, 2000, limit, startAt)));
      const store = new SqliteStore({ path });
      const [small, shared] = await store.balances([
        line('small', { limitNano: limit }),
        line('shared', { limitNano: 1_000_000_000 }),
      ]);
      await store.close();
      const sum = (f: (r: WorkerReport) => number) => reports.reduce((s, r) => s + f(r), 0);
      expect(sum((r) => r.reserved + r.rejected)).toBe(6000);
      expect(sum((r) => r.rejected)).toBeGreaterThan(0);
      expect(small).toEqual({ limitNano: limit, spentNano: sum((r) => r.settledSmall), reservedNano: 0 });
      expect(small!.spentNano).toBeLessThanOrEqual(limit);
      expect(shared).toEqual({
        limitNano: 1_000_000_000,
        spentNano: sum((r) => r.settledShared),
        reservedNano: 0,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
