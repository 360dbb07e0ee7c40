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
  // Calls 1-4 are served by gpt-4o; past 80% of web-monthly, gpt-4o-mini serves them.
  expect(stdout).toMatch(/\n {3}4 +gpt-4o +gpt-4o +\$/);
  expect(stdout).toMatch(/\n {3}5 +gpt-4o +gpt-4o-mini +\$.*x-gateway-downgraded-from: gpt-4o/);
  expect(stdout).toContain('x-gateway-max-tokens-clamped');
  expect(stdout).toMatch(/call 4: 429 budget_exceeded\n +"Budget "per-user-daily" is exhausted/);
  expect(stdout).toMatch(/per-user-daily +spent \$0\.002000 of \$0\.002/);
  expect(stdout).toContain('the refused call never reached it');
  // The demo itself takes about a second; starting tsx on a loaded machine can take far longer.
}, 120_000);
