/**
 * Metered answers end cleanly for the official SDK helpers when the budget runs out mid-answer
 * (issue #17): the client sees the provider's own ending at its output cap, upstream is aborted,
 * and the books hold what the reservation held, never past the limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type Stack, startStack } from '../../../test/helpers/stack.js';

/** gpt-4o-mini output is $0.60/M: $0.0006 is 1,000 output tokens (less the short prompt). */
const LIMIT_USD = 0.0006;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function metered(limitUsd = LIMIT_USD): Promise<Stack> {
  stack = await startStack({
    extraYaml: `
budgets:
  - { id: small, scope: global, limit_usd: ${limitUsd}, period: none }
budgeting: { stream_slice_tokens: 256, max_wait_ms: 0 }
`,
  });
  return stack;
}

/** An answer of 3,000 tokens, one a chunk, so the budget ends it a third of the way. */
const LONG = { 'x-mock-output-tokens': '3000', 'x-mock-chunks': '3000', 'x-mock-chunk-delay-ms': '1' };

async function booksOf(s: Stack) {
  const budgets = await s.gateway.engine.budgetsFor(
    { keyId: 'alpha', user: 'alice', team: 'web', tags: [], anonymous: false },
    Date.now(),
  );
  return budgets.find((b) => b.budget.id === 'small')!;
}

describe('metered answers at the budget end', () => {
  it('openai chat.completions.stream().finalChatCompletion(): finish_reason length, no exception', async () => {
    const s = await metered();
    const completion = await s
      .openai()
      .chat.completions.stream(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'write a long story' }] },
        { headers: LONG },
      )
      .finalChatCompletion();
    expect(completion.choices[0]?.finish_reason).toBe('length');
    const text = completion.choices[0]?.message.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    await eventually(() => expect(s.records).toHaveLength(1));
    const record = s.records[0]!;
    expect(record.cutAtBudget).toBe(true);
    expect(record.metered).toBe(true);
    expect(record.extensions).toBeGreaterThan(0);
    // Upstream was aborted: the mock did not finish its 3,000 tokens.
    await eventually(() => expect(s.mock.served[0]?.clientClosedAt).not.toBeNull());
    expect(s.mock.served[0]!.outputTokensSent).toBeLessThan(1200);
    const books = await booksOf(s);
    expect(books.spentNano).toBeLessThanOrEqual(LIMIT_USD * 1e9);
    expect(books.spentNano).toBeGreaterThan(LIMIT_USD * 1e9 * 0.9);
    expect(books.reservedNano).toBe(0);
  });

  it('a plain request is streamed upstream and answered plain: finish_reason length at the budget', async () => {
    const s = await metered();
    const completion = await s
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'write a long story' }] },
        { headers: LONG },
      );
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(s.mock.served[0]?.stream).toBe(true);
    const books = await booksOf(s);
    expect(books.spentNano).toBeLessThanOrEqual(LIMIT_USD * 1e9);
    expect(books.reservedNano).toBe(0);
  });

  it('a plain answer that fits is the provider plain answer, billed at its usage', async () => {
    const s = await metered();
    const completion = await s
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-mock-output-tokens': '40' } },
      );
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(40);
    await eventually(() => expect(s.records).toHaveLength(1));
    expect(s.records[0]!.settlement).toBe('usage');
    expect(s.records[0]!.cutAtBudget).toBe(false);
  });

  it('anthropic messages.stream().finalMessage(): stop_reason max_tokens, no exception', async () => {
    // claude-haiku-4-5 output is $5/M: $0.005 is 1,000 tokens.
    const s = await metered(0.005);
    const message = await s
      .anthropic()
      .messages.stream(
        {
          model: 'claude-haiku-4-5',
          max_tokens: 64000,
          messages: [{ role: 'user', content: 'write a long story' }],
        },
        { headers: LONG },
      )
      .finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    await eventually(() => expect(s.records).toHaveLength(1));
    expect(s.records[0]!.cutAtBudget).toBe(true);
  });

  it('openai responses.stream(): ends incomplete (max_output_tokens), no exception', async () => {
    const s = await metered();
    const stream = s
      .openai()
      .responses.stream({ model: 'gpt-4o-mini', input: 'write a long story' }, { headers: LONG });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('response.incomplete');
    await eventually(() => expect(s.records).toHaveLength(1));
    expect(s.records[0]!.cutAtBudget).toBe(true);
  });
});
