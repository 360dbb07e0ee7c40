/**
 * The official @anthropic-ai/sdk client through the gateway against the mock provider: messages,
 * streaming and not; cache reads and writes billed at their prices.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../../../test/helpers/stack.js';
import { generatedText } from '../../mock/text.js';
import { formatUsd } from '../../money.js';
import { costOfUsage } from '../../usage.js';
import { mockCost, mockCostHeader, onlyServed, priceOf, recordOf, usageOf } from './stack.test-helpers.js';

let stack: Stack;
let client: Anthropic;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: `budgets:
  - { id: alice-daily, scope: { user: alice }, limit_usd: 2, period: daily }
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
`,
  });
  client = stack.anthropic();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const MODEL = 'claude-haiku-4-5';
const messages = [{ role: 'user' as const, content: 'Explain budgets in one paragraph.' }];

function textOf(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

describe('messages', () => {
  it('non-streaming: the message the mock produced, billed to the nano-USD', async () => {
    const { data, response } = await client.messages
      .create({ model: MODEL, max_tokens: 64, messages })
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(data.id).toBe(served.id);
    expect(textOf(data)).toBe(generatedText(served.outputTokensSent));
    expect(data.usage.input_tokens).toBe(served.usage.input_tokens);
    expect(data.usage.output_tokens).toBe(served.usage.output_tokens);

    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
    expect(response.headers.get('x-gateway-model')).toBe(MODEL);
    expect(response.headers.get('x-gateway-budget-id')).toBe('alice-daily');
    expect(response.headers.get('x-gateway-budget-remaining-usd')).toMatch(/^1\.99\d{7}$/);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(mockCost(served));
    expect(record.user).toBe('alice');
  });

  it('cache reads and writes are billed at their own prices', async () => {
    const long = 'budget '.repeat(200);
    const { data, response } = await client.messages
      .create(
        { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: long }] },
        { headers: { 'x-mock-cached-tokens': '100', 'x-mock-cache-write-tokens': '50' } },
      )
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(data.usage.cache_read_input_tokens).toBe(100);
    expect(data.usage.cache_creation_input_tokens).toBe(50);

    const usage = usageOf(served.usage);
    const cost = costOfUsage(usage, priceOf(MODEL));
    const allAsInput = costOfUsage(
      {
        ...usage,
        inputTokens: usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
      },
      priceOf(MODEL),
    );
    expect(cost).not.toBe(allAsInput);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(formatUsd(cost));
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.cachedInputTokens).toBe(100);
    expect(record.cacheWriteTokens).toBe(50);
  });

  it('streaming via messages.stream(): finalMessage equals what the mock produced; the ledger has its cost', async () => {
    const { data: stream, response } = await client.messages
      .stream(
        { model: MODEL, max_tokens: 64, messages },
        { headers: { 'x-mock-cache-write-tokens': '3', 'x-mock-chunks': '5' } },
      )
      .withResponse();
    const final = await stream.finalMessage();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(final.id).toBe(served.id);
    expect(textOf(final)).toBe(generatedText(served.outputTokensSent));
    expect(final.usage.output_tokens).toBe(served.usage.output_tokens);
    expect(final.usage.cache_creation_input_tokens).toBe(3);

    expect(response.headers.get('x-gateway-cost-usd')).toBeNull();
    expect(response.headers.get('x-gateway-estimated-cost-usd')).toMatch(/^\d+\.\d{9}$/);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.stream).toBe(true);
    expect(record.settlement).toBe('usage');
    expect(record.cacheWriteTokens).toBe(3);
    expect(record.costNano).toBe(mockCost(served));
  });

  it('stream events reach the client as the provider sends them, not buffered until the end', async () => {
    const stream = client.messages.stream(
      { model: MODEL, max_tokens: 64, messages },
      { headers: { 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '150' } },
    );
    const arrivals: number[] = [];
    stream.on('text', () => arrivals.push(Date.now()));
    await stream.finalMessage();
    expect(arrivals).toHaveLength(5);
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(450);
  });

  it('streaming with reasoning (thinking) tokens bills them as output', async () => {
    const { data: stream, response } = await client.messages
      .stream({ model: MODEL, max_tokens: 200, messages }, { headers: { 'x-mock-reasoning-tokens': '40' } })
      .withResponse();
    const final = await stream.finalMessage();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(served.usage.reasoning_tokens).toBe(40);
    expect(final.usage.output_tokens).toBe(served.usage.output_tokens);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.outputTokens).toBe(served.usage.output_tokens);
    expect(record.reasoningTokens).toBe(40);
    expect(record.costNano).toBe(mockCost(served));
  });
});
