/**
 * [hardening] 10: requests with a bad or missing key write no ledger row (anyone can send them,
 * and a row each, kept 90 days, grew the store without limit); they are counted in their hour's
 * rollup, one row an hour whatever the user header or model they name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../helpers/stack.js';

const N = 1000;

async function ledgerRows(stack: Stack): Promise<number> {
  await stack.gateway.analytics.flush();
  let rows = 0;
  for await (const _ of stack.gateway.analytics.ledger(0, Date.now() + 3_600_000)) rows++;
  return rows;
}

describe('invalid-key requests', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it(`${N} invalid-key requests add no ledger row and are counted`, async () => {
    const before = await ledgerRows(stack);
    const statuses = new Map<number, number>();
    for (let start = 0; start < N; start += 50) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(50, N - start) }, (_, j) => {
          const i = start + j;
          const auth: Record<string, string> =
            i % 2 === 0 ? { authorization: `Bearer sk-gw-wrong-${i}` } : {};
          return fetch(`${stack.gateway.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-gateway-user': `flood-${i}`, ...auth },
            body: JSON.stringify({ model: `model-${i}`, messages: [{ role: 'user', content: 'hi' }] }),
          }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          });
        }),
      );
      for (const status of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect([...statuses]).toEqual([[401, N]]);
    const after = await ledgerRows(stack);
    console.log(`ledger rows: before ${before}, after ${N} invalid-key requests ${after}`);
    expect(after - before).toBe(0);

    const report = await stack.gateway.analytics.usage({
      fromMs: Date.now() - 3_600_000,
      toMs: Date.now() + 3_600_000,
      bucket: 'hour',
      groupBy: ['key'],
    });
    console.log(`usage rows for the flood: ${JSON.stringify(report.rows)}`);
    const unkeyed = report.rows.filter((row) => row.group.key === '');
    expect(unkeyed.reduce((sum, row) => sum + row.counters.requests, 0)).toBe(N);
    expect(unkeyed.reduce((sum, row) => sum + row.counters.errors, 0)).toBe(N);
    // One row an hour: the flood's thousand user ids and model names made no dimensions.
    expect(unkeyed.length).toBeLessThanOrEqual(2);
  });

  it('a valid key still gets its ledger row', async () => {
    const before = await ledgerRows(stack);
    const answer = await stack.openai(TEST_KEY).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
    });
    expect(answer.choices).toHaveLength(1);
    expect((await ledgerRows(stack)) - before).toBe(1);
  });
});
