/**
 * Runs the test suite again with the wall clock shifted to where calendar bugs live, so a test or
 * a feature that reads today's date fails on any day, not only on the 1st of a month:
 *
 *   first-minutes   the 1st of next month, 00:02 UTC (a period just began)
 *   last-minutes    the last day of next month, 23:58 UTC (the run crosses into a new month)
 *   midday-first    the 1st of next month, 12:00 UTC (half a day into a month)
 *
 * Usage: npm run test:calendar [-- [--at first-minutes|last-minutes|midday-first|<ISO time>] [vitest args]]
 * The shift is test/helpers/shift-clock.mjs, preloaded into every Node process through NODE_OPTIONS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');

export function calendarTargets(nowMs: number): Record<string, number> {
  const now = new Date(nowMs);
  const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const monthAfter = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1);
  return {
    'first-minutes': nextMonth + 2 * 60_000,
    'last-minutes': monthAfter - 2 * 60_000,
    'midday-first': nextMonth + 12 * 3_600_000,
  };
}

function main(argv: string[]): number {
  const targets = calendarTargets(Date.now());
  let chosen = Object.entries(targets);
  const at = argv.indexOf('--at');
  if (at >= 0) {
    const name = argv[at + 1] ?? '';
    const time = targets[name] ?? Date.parse(name);
    if (!Number.isFinite(time)) {
      console.error(`test:calendar: --at takes ${Object.keys(targets).join(', ')} or an ISO time`);
      return 2;
    }
    chosen = [[name, time]];
    argv.splice(at, 2);
  }
  const preload = pathToFileURL(join(root, 'test', 'helpers', 'shift-clock.mjs')).href;
  const vitest = join(root, 'node_modules', '.bin', 'vitest');
  const failed: string[] = [];
  // The failure-summary reporter (vitest.config.ts) writes each run's failed tests here.
  const summaries = mkdtempSync(join(tmpdir(), 'test-calendar-'));
  const report: string[] = [];
  for (const [name, time] of chosen) {
    const summaryFile = join(summaries, `${name}.txt`);
    const offset = time - Date.now();
    console.log(
      `\ntest:calendar: ${name}: the clock reads ${new Date(time).toISOString()} (shift ${offset} ms)`,
    );
    const result = spawnSync(vitest, ['run', ...argv], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        SHIFT_CLOCK_OFFSET_MS: String(offset),
        FAILURE_SUMMARY_FILE: summaryFile,
        NODE_OPTIONS: `--import=${preload} ${process.env.NODE_OPTIONS ?? ''}`.trim(),
      },
    });
    if (result.status !== 0) {
      failed.push(name);
      let tests = '';
      try {
        tests = readFileSync(summaryFile, 'utf8').trim();
      } catch {
        tests = '(no test failed: the run itself did; see its output above)';
      }
      report.push(`${name}:\n${tests}`);
    }
  }
  rmSync(summaries, { recursive: true, force: true });
  if (failed.length > 0) {
    console.error(`\n${report.join('\n')}`);
    console.error(`test:calendar: failed with the clock at: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

if (import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2));
