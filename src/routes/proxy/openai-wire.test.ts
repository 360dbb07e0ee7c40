/**
 * The official openai client through the gateway against the mock provider: the client sees what the
 * mock produced, and the gateway bills exactly the mock's reported usage (to the nano-USD).
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { generatedText } from '../../mock/text.js';
import { formatUsd, usdToNano } from '../../money.js';
import { costOfUsage } from '../../usage.js';
import { mockCost, mockCostHeader, onlyServed, priceOf, recordOf, usageOf } from './stack.test-helpers.js';

const TEAM_LIMIT_USD = 10;

let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: `budgets:
  - { id: web-team, scope: { team: web }, limit_usd: ${TEAM_LIMIT_USD}, period: monthly }
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
`,
  });
  client = stack.openai();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const messages = [{ role: 'user' as const, content: 'Tell me a short story about a budget.' }];

describe('chat completions, non-streaming', () => {
  it('returns what the mock produced and bills its usage to the nano-USD', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages, max_tokens: 50 })
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');

    expect(data.id).toBe(served.id);
    expect(data.choices[0]?.message.content).toBe(generatedText(served.outputTokensSent));
    expect(data.usage?.prompt_tokens).toBe(served.usage.input_tokens + served.usage.cached_tokens);
    expect(data.usage?.completion_tokens).toBe(served.usage.output_tokens);

    const cost = mockCost(served);
    expect(cost).toBeGreaterThan(0);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
    expect(response.headers.get('x-gateway-estimated-cost-usd')).toBeNull();
    expect(response.headers.get('x-gateway-model')).toBe('gpt-4o');
    expect(response.headers.get('x-gateway-downgraded-from')).toBeNull();
    // The tightest of the two budgets is the team's, and it has just this request in it.
    expect(response.headers.get('x-gateway-budget-id')).toBe('web-team');
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(cost);
    expect(record.settlement).toBe('usage');
    expect(record.servedModel).toBe('gpt-4o');
    const teamSpent = stack.records
      .filter((r) => r.team === 'web' && r.timeMs <= record.timeMs)
      .reduce((sum, r) => sum + r.costNano, 0);
    expect(response.headers.get('x-gateway-budget-remaining-usd')).toBe(
      formatUsd(usdToNano(TEAM_LIMIT_USD) - teamSpent),
    );
  });

  it('bills cached input and reasoning tokens at their prices', async () => {
    const { data, response } = await client.chat.completions
      .create(
        { model: 'o3-mini', messages, max_completion_tokens: 200 },
        { headers: { 'x-mock-cached-tokens': '8', 'x-mock-reasoning-tokens': '30' } },
      )
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(served.usage.cached_tokens).toBe(8);
    expect(served.usage.reasoning_tokens).toBe(30);
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(30);
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(8);

    const usage = usageOf(served.usage);
    const cost = costOfUsage(usage, priceOf('o3-mini'));
    // Cached tokens are cheaper than input: billing them at the input price would be a different figure.
    const asIfUncached = costOfUsage(
      { ...usage, inputTokens: usage.inputTokens + usage.cachedInputTokens, cachedInputTokens: 0 },
      priceOf('o3-mini'),
    );
    expect(cost).toBeLessThan(asIfUncached);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(formatUsd(cost));
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.cachedInputTokens).toBe(8);
    expect(record.reasoningTokens).toBe(30);
    expect(record.outputTokens).toBe(served.usage.output_tokens);
  });
});

describe('chat completions, streaming', () => {
  it('a client that did not ask for usage sees neither the usage chunk nor usage fields', async () => {
    const { data: stream, response } = await client.chat.completions
      .create(
        { model: 'gpt-4o', messages, max_tokens: 40, stream: true },
        { headers: { 'x-mock-chunks': '6' } },
      )
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const served = onlyServed(stack);

    // The gateway asked the provider for usage on the client's behalf...
    expect((served.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    expect(served.usage).not.toBeNull();
    // ...and removed every trace of it from the client's stream.
    expect(chunks.length).toBeGreaterThan(6);
    for (const chunk of chunks) {
      expect('usage' in chunk).toBe(false);
      expect(chunk.choices).toHaveLength(1);
      expect(chunk.id).toBe(served.id);
    }
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(generatedText(served.outputTokensSent));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');

    expect(response.headers.get('x-gateway-cost-usd')).toBeNull();
    const estimate = response.headers.get('x-gateway-estimated-cost-usd');
    expect(estimate).toMatch(/^\d+\.\d{9}$/);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.stream).toBe(true);
    expect(record.settlement).toBe('usage');
    expect(record.costNano).toBe(mockCost(served));
    expect(record.costNano).toBeLessThanOrEqual(usdToNano(Number(estimate)));
  });

  it('chunks reach the client as the provider sends them, not buffered until the end', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages, max_tokens: 40, stream: true },
      { headers: { 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '150' } },
    );
    const arrivals: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) arrivals.push(Date.now());
    expect(arrivals).toHaveLength(5);
    // The mock waits 150 ms between content chunks (600 ms in all); a buffered relay would deliver
    // them together. Lower bound only, so a slow machine cannot fail it.
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(450);
  });

  it('the raw stream of a client without include_usage has no usage bytes at all', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, max_tokens: 30, stream: true }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain('"usage"');
    expect(text).not.toContain('"choices":[]');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const served = onlyServed(stack);
    expect(served.usage).not.toBeNull();
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(mockCost(served));
  });

  it('include_usage: false is a client that did not ask: the usage chunk is asked for and removed', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages,
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: false },
      })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const served = onlyServed(stack);
    expect((served.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    for (const chunk of chunks) expect('usage' in chunk).toBe(false);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(mockCost(served));
  });

  it('a client that asked for usage gets the usage chunk, as the provider sent it', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages,
        max_tokens: 40,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');

    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.prompt_tokens).toBe(served.usage.input_tokens + served.usage.cached_tokens);
    expect(last?.usage?.completion_tokens).toBe(served.usage.output_tokens);
    // The others carry usage: null, as OpenAI sends them when the option is on.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(generatedText(served.outputTokensSent));

    expect(response.headers.get('x-gateway-estimated-cost-usd')).not.toBeNull();
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(mockCost(served));
    expect(record.settlement).toBe('usage');
  });
});

describe('completions, embeddings', () => {
  it('legacy completions: text and cost', async () => {
    const { data, response } = await client.completions
      .create({ model: 'gpt-4o-mini', prompt: 'Once upon a time', max_tokens: 12 })
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(data.choices[0]?.text).toBe(generatedText(served.outputTokensSent));
    expect(data.usage?.prompt_tokens).toBe(served.usage.input_tokens);
    expect(data.usage?.completion_tokens).toBe(12);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
    expect(response.headers.get('x-gateway-model')).toBe('gpt-4o-mini');
  });

  it('legacy completions without max_tokens: the provider default of 16 applies, as without the gateway', async () => {
    // The mock generates 20 tokens when nothing caps it; OpenAI's legacy default cap is 16.
    const { data, response } = await client.completions
      .create({ model: 'gpt-4o-mini', prompt: 'Once upon a time' })
      .withResponse();
    const served = onlyServed(stack);
    expect((served.body as Record<string, unknown>).max_tokens).toBeUndefined();
    expect(data.usage?.completion_tokens).toBe(16);
    expect(data.choices[0]?.finish_reason).toBe('length');
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    // Reserved for 16 output tokens (and a short prompt), far below the 16384 of the model's maximum.
    const hundredOutputTokens = costOfUsage(
      { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 100, reasoningTokens: 0 },
      priceOf('gpt-4o-mini'),
    );
    expect(record.estimateNano).toBeGreaterThan(0);
    expect(record.estimateNano).toBeLessThan(hundredOutputTokens);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
  });

  it('legacy completions streaming: text and cost', async () => {
    const { data: stream, response } = await client.completions
      .create({ model: 'gpt-4o-mini', prompt: 'Once upon a time', max_tokens: 12, stream: true })
      .withResponse();
    let text = '';
    for await (const chunk of stream) {
      expect('usage' in chunk).toBe(false);
      text += chunk.choices[0]?.text ?? '';
    }
    const served = onlyServed(stack);
    expect(text).toBe(generatedText(served.outputTokensSent));
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBe(mockCost(served));
  });

  it('embeddings: vectors and input-only cost', async () => {
    const input = ['the quick brown fox', 'jumps over the lazy dog'];
    const { data, response } = await client.embeddings
      .create({ model: 'text-embedding-3-small', input })
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(data.data).toHaveLength(2);
    expect(data.data[0]?.embedding).toHaveLength(8);
    expect(data.usage.prompt_tokens).toBe(served.usage.input_tokens);
    expect(served.usage.output_tokens).toBe(0);
    expect(mockCost(served)).toBeGreaterThan(0);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
  });
});

describe('responses', () => {
  it('non-streaming: output text and cost', async () => {
    const { data, response } = await client.responses
      .create({ model: 'gpt-4o', input: 'Write a haiku about spending.', max_output_tokens: 25 })
      .withResponse();
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(data.id).toBe(served.id);
    expect(data.output_text).toBe(generatedText(served.outputTokensSent));
    expect(data.usage?.output_tokens).toBe(served.usage.output_tokens);
    expect(response.headers.get('x-gateway-cost-usd')).toBe(mockCostHeader(served));
  });

  it('streaming: events pass through and the usage of response.completed is billed', async () => {
    const { data: stream, response } = await client.responses
      .create(
        { model: 'gpt-4o', input: 'Write a haiku about spending.', max_output_tokens: 100, stream: true },
        { headers: { 'x-mock-cached-tokens': '4' } },
      )
      .withResponse();
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(text).toBe(generatedText(served.outputTokensSent));
    expect(completed?.usage?.input_tokens_details.cached_tokens).toBe(4);
    expect(completed?.usage?.output_tokens).toBe(served.usage.output_tokens);
    expect(response.headers.get('x-gateway-estimated-cost-usd')).not.toBeNull();
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.cachedInputTokens).toBe(4);
    expect(record.costNano).toBe(mockCost(served));
  });
});
