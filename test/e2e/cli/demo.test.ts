/**
 * `npm run demo` keeps telling its story: run from source (the npm script runs the same file built),
 * it exits 0 after showing costs, the downgrade past 80% and the per-user 429.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

it('the demo runs end to end and shows costs, a downgrade and a budget_exceeded refusal', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toMatch(/cost {10}\$0\.\d{9} {2}\(x-gateway-cost-usd\)/);
  expect(stdout).toContain('the provider saw the key "Bearer mock-openai-key"');
  // A call starting under 80% of web-monthly ($0.50) spent is served by gpt-4o, one starting past it
  // by gpt-4o-mini. Which call that is depends on what each cost: on a loaded machine a metered
  // answer far from the end may be cut short (docs/controls.md, the lag margin), so the rows are
  // checked against the money left before each call, not by number.
  const rows = [...stdout.matchAll(/\n {3}(\d) +gpt-4o +(gpt-4o(?:-mini)?) +\$[\d.]+ +\$([\d.]+)(.*)/g)];
  expect(rows.map((row) => Number(row[1]))).toEqual([1, 2, 3, 4, 5, 6]);
  let leftBefore = 0.5;
  for (const [, , served, left, note] of rows) {
    expect(served).toBe(leftBefore <= 0.1 ? 'gpt-4o-mini' : 'gpt-4o');
    expect((note ?? '').includes('x-gateway-downgraded-from: gpt-4o')).toBe(served === 'gpt-4o-mini');
    leftBefore = Number(left);
  }
  expect(rows.filter((row) => row[2] === 'gpt-4o-mini').length).toBeGreaterThan(0);
  expect(stdout).toContain('x-gateway-max-tokens-clamped');
  expect(stdout).toMatch(/call 4: 429 budget_exceeded\n +"Budget "per-user-daily" is exhausted/);
  expect(stdout).toMatch(/per-user-daily +spent \$0\.002000 of \$0\.002/);
  expect(stdout).toContain('the refused call never reached it');
  // The demo itself takes about a second; starting tsx on a loaded machine can take far longer.
}, 120_000);
