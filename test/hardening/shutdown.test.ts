/**
 * Graceful shutdown: in-flight streams finish within the grace period and are settled from their
 * usage; past it they are cut, billed for what was streamed, and nothing stays reserved.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/budget.js';
import { type Stack, startStack } from '../helpers/stack.js';

const BUDGET = 'budgets:\n  - { id: everything, scope: global, limit_usd: 100, period: none }\n';
let stack: Stack | undefined;

afterEach(async () => {
  await stack?.mock.close();
  if (stack) rmSync(stack.dir, { recursive: true, force: true });
  stack = undefined;
});

async function balanceAfterClose(dir: string) {
  const store = new SqliteStore({ path: join(dir, 'gateway.db') });
  const spec = {
    instance: 'everything',
    budgetId: 'everything',
    period: 'all',
    previousPeriod: null,
    limitNano: 100e9,
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
  };
  const [balance] = await store.balances([spec]);
  await store.close();
  return balance!;
}

async function slowStream(s: Stack) {
  const stream = await s.openai().chat.completions.create(
    {
      model: 'gpt-4o-mini',
      stream: true,
      max_tokens: 40,
      messages: [{ role: 'user', content: 'count slowly' }],
    },
    { headers: { 'x-mock-output-tokens': '40', 'x-mock-chunks': '20', 'x-mock-chunk-delay-ms': '40' } },
  );
  let text = '';
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  } catch {
    // cut by the shutdown
  }
  return text;
}

describe('graceful shutdown', () => {
  it('lets an in-flight stream finish within the grace period and settles it', async () => {
    stack = await startStack({ extraYaml: BUDGET });
    const s = stack;
    const streaming = slowStream(s);
    await expect.poll(() => s.mock.served.length).toBe(1);
    const closing = s.gateway.close(10_000);
    // New connections are refused while draining.
    await expect(fetch(`${s.gateway.url}/healthz`)).rejects.toThrow();
    const text = await streaming;
    await closing;
    expect(s.mock.served[0]?.completed).toBe(true);
    expect(text.length).toBeGreaterThan(0);
    expect(s.records).toHaveLength(1);
    expect(s.records[0]?.settlement).toBe('usage');
    const balance = await balanceAfterClose(s.dir);
    expect(balance.reservedNano).toBe(0);
    expect(balance.spentNano).toBe(s.records[0]?.costNano);
  });

  it('cuts streams past the grace period, bills what was streamed and leaves nothing reserved', async () => {
    stack = await startStack({ extraYaml: BUDGET });
    const s = stack;
    const streaming = slowStream(s);
    await expect.poll(() => s.mock.served[0]?.outputTokensSent ?? 0).toBeGreaterThan(2);
    await s.gateway.close(100);
    await streaming;
    expect(s.mock.served[0]?.completed).toBe(false);
    expect(s.records).toHaveLength(1);
    expect(s.records[0]?.settlement).toBe('counted');
    expect(s.records[0]?.outputTokens).toBeGreaterThan(0);
    const balance = await balanceAfterClose(s.dir);
    expect(balance.reservedNano).toBe(0);
    expect(balance.spentNano).toBe(s.records[0]?.costNano);
  });
});
