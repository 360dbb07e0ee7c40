/**
 * Periods end to end, on a controllable clock through a real gateway: a daily budget in Asia/Tokyo
 * (UTC+9, so its midnight is 15:00 UTC). A stream reserved at 23:59:50 and finished after midnight
 * is settled in the day it was reserved in; the new day starts fresh. (DST and month ends are unit
 * tested in src/budget/periods.test.ts.)
 */
import { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { LineSpec } from '../../src/store/types.js';
import { eventually, type Stack, startStack, TEST_KEY } from '../helpers/stack.js';
import { servedCost } from './fixtures.js';

const LIMIT_USD = 0.001;
/** 2026-03-14 23:59:50 in Tokyo. */
const BEFORE_MIDNIGHT = Date.parse('2026-03-14T14:59:50Z');
/** 2026-03-15 00:00:05 in Tokyo. */
const AFTER_MIDNIGHT = Date.parse('2026-03-14T15:00:05Z');

function tokyoDay(day: string): LineSpec {
  return {
    instance: 'tokyo-daily',
    budgetId: 'tokyo-daily',
    period: day,
    previousPeriod: null,
    limitNano: LIMIT_USD * 1e9,
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
  };
}

describe('a daily budget across midnight in Asia/Tokyo', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('settles a stream reserved before midnight into that day, and starts the new day fresh', async () => {
    let now = BEFORE_MIDNIGHT;
    stack = await startStack({
      clock: () => now,
      extraYaml: `
budgets:
  - { id: tokyo-daily, scope: global, limit_usd: ${LIMIT_USD}, period: daily, timezone: Asia/Tokyo }
# No answer shorter than 1000 tokens: a second such request cannot squeeze in beside the first.
budgeting: { min_output_tokens: 1000 }
`,
    });
    const client = stack.openai(TEST_KEY);
    const ask = (content: string) => ({
      model: 'gpt-4o-mini',
      max_tokens: 1200,
      messages: [{ role: 'user' as const, content }],
    });

    // 1200 tokens at $0.60/M: $0.00072 of the day's $0.001 is reserved while this streams.
    const stream = await client.chat.completions.create(
      { ...ask('a long answer, slowly'), stream: true },
      { headers: { 'x-mock-output-tokens': '1200', 'x-mock-chunks': '12', 'x-mock-chunk-delay-ms': '100' } },
    );
    const chunks = stream[Symbol.asyncIterator]();
    expect((await chunks.next()).done).toBe(false);

    // Same day, the rest cannot hold another 1000-token answer: refused until Tokyo's midnight.
    const refusal = await client.chat.completions.create(ask('one more today')).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(APIError);
    expect((refusal as APIError).status).toBe(429);
    expect((refusal as APIError).code).toBe('budget_exceeded');
    expect((refusal as APIError).headers?.get('retry-after')).toBe('10');
    expect((refusal as APIError).message).toContain('2026-03-14T15:00:00.000Z');

    // Midnight passes in Tokyo while the stream is still going.
    now = AFTER_MIDNIGHT;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      // drain
    }
    await eventually(() => expect(stack?.records.map((r) => r.settlement).sort()).toEqual(['none', 'usage']));

    // The new day starts fresh: the same request is served and counted there.
    await client.chat.completions.create(ask('one more, tomorrow'));

    const [streamed, tomorrow] = stack.mock.served.filter((r) => r.status === 200);
    expect(streamed?.stream).toBe(true);
    const streamedNano = servedCost(streamed!);
    const tomorrowNano = servedCost(tomorrow!);
    expect(await stack.gateway.store.balances([tokyoDay('2026-03-14'), tokyoDay('2026-03-15')])).toEqual([
      { limitNano: LIMIT_USD * 1e9, spentNano: streamedNano, reservedNano: 0 },
      { limitNano: LIMIT_USD * 1e9, spentNano: tomorrowNano, reservedNano: 0 },
    ]);

    const view = await fetch(`${stack.gateway.url}/v1/budget`, {
      headers: { authorization: `Bearer ${TEST_KEY}` },
    });
    const { budgets } = (await view.json()) as {
      budgets: Array<{ id: string; spent_usd: number; reserved_usd: number; resets_at: string }>;
    };
    expect(budgets.find((b) => b.id === 'tokyo-daily')).toMatchObject({
      spent_usd: tomorrowNano / 1e9,
      reserved_usd: 0,
      resets_at: '2026-03-15T15:00:00.000Z',
    });
  });
});
