/**
 * OpenAI clients through the gateway to providers that are not OpenAI: Azure OpenAI (deployment
 * URLs with api-version and api-key, and the v1 API) and OpenAI-compatible servers with their own
 * usage fields (DeepSeek cache hits, OpenRouter's reported cost, Groq's x_groq usage, a server that
 * refuses stream_options). Each is budgeted at the YAML price of what the mock served.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OPENAI_UPSTREAM_KEY, type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import type { ServedRecord } from '../../mock/server.js';
import { MOCK_OPENROUTER_PRICES } from '../../mock/variants.js';
import { pricePerMillionToPico } from '../../money.js';
import { costOfUsage, type ModelPrice } from '../../usage.js';
import { budgetTotals, recordOf, usageOf } from './stack.test-helpers.js';

const AZURE_UPSTREAM_KEY = 'azure-upstream-secret-0004';
/** The mock serves every OpenAI-shaped route with one key: the compatible servers use it too. */
const COMPAT_UPSTREAM_KEY = OPENAI_UPSTREAM_KEY;

function price(input: number, output: number, cached = input): ModelPrice {
  return {
    input: pricePerMillionToPico(input),
    output: pricePerMillionToPico(output),
    cachedInput: pricePerMillionToPico(cached),
    cacheWrite: pricePerMillionToPico(input),
  };
}

const PRICES: Record<string, ModelPrice> = {
  'azure-gpt-4o': price(2.5, 10, 1.25),
  'azure-v1-mini': price(0.15, 0.6, 0.075),
  'deepseek-chat': price(0.27, 1.1, 0.07),
  'or-llama': price(0.1, 0.3),
  'groq-llama': price(0.59, 0.79),
  'vllm-qwen': price(0.2, 0.2),
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    mock: { azureApiKey: AZURE_UPSTREAM_KEY },
    mockUrlPlaceholder: 'MOCK_URL',
    providersYaml: `  azure: { kind: azure, base_url: "MOCK_URL", api_key: "${AZURE_UPSTREAM_KEY}", api_version: 2024-10-21, deployments: { gpt-4o: prod-gpt4o } }
  azure-v1: { kind: azure, base_url: "MOCK_URL", api_key: "${AZURE_UPSTREAM_KEY}", api_version: v1 }
  compat: { kind: openai-compatible, base_url: "MOCK_URL/v1", api_key: "${COMPAT_UPSTREAM_KEY}" }
  vllm: { kind: openai-compatible, base_url: "MOCK_URL/v1", api_key: "${COMPAT_UPSTREAM_KEY}", stream_usage: false }`,
    modelsYaml: `  azure-gpt-4o: { provider: azure, upstream_model: gpt-4o, input: 2.50, output: 10.00, cached_input: 1.25, max_output_tokens: 16384 }
  azure-v1-mini: { provider: azure-v1, upstream_model: gpt-4o-mini, input: 0.15, output: 0.60, cached_input: 0.075, max_output_tokens: 16384 }
  deepseek-chat: { provider: compat, input: 0.27, output: 1.10, cached_input: 0.07, max_output_tokens: 8192 }
  or-llama: { provider: compat, upstream_model: meta-llama/llama-3.3-70b-instruct, input: 0.10, output: 0.30, max_output_tokens: 8192 }
  groq-llama: { provider: compat, upstream_model: llama-3.3-70b-versatile, input: 0.59, output: 0.79, max_output_tokens: 8192 }
  vllm-qwen: { provider: vllm, upstream_model: Qwen/Qwen2.5-7B-Instruct, input: 0.20, output: 0.20, max_output_tokens: 8192 }`,
    extraYaml: `budgets:
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

function only(): ServedRecord {
  expect(stack.mock.served).toHaveLength(1);
  return stack.mock.served[0] as ServedRecord;
}

/** Books of one request against the YAML price of the usage the mock reported (+-1 nano). */
async function expectBooked(requestId: string | null, model: string, upstream: ServedRecord) {
  const record = await recordOf(stack, requestId);
  if (!upstream.usage) throw new Error('the mock reported no usage');
  const cost = costOfUsage(usageOf(upstream.usage), PRICES[model] as ModelPrice);
  expect(Math.abs(record.costNano - cost)).toBeLessThanOrEqual(1);
  return record;
}

const MESSAGES = [{ role: 'user' as const, content: 'Count the budget lines.' }];

describe('Azure OpenAI', () => {
  it('sends chat to the deployment URL with api-version and api-key; books the price', async () => {
    const before = await budgetTotals(stack);
    const { data, response } = await stack
      .openai(TEST_KEY, { defaultHeaders: { 'x-mock-output-tokens': '11', 'x-mock-cached-tokens': '3' } })
      .chat.completions.create({ model: 'azure-gpt-4o', messages: MESSAGES, max_tokens: 40 })
      .withResponse();
    expect(data.usage?.completion_tokens).toBe(11);
    const upstream = only();
    expect(upstream.path).toBe('/openai/deployments/prod-gpt4o/chat/completions');
    expect(upstream.headers['api-key']).toBe(AZURE_UPSTREAM_KEY);
    expect(upstream.headers.authorization).toBeUndefined();
    const record = await expectBooked(response.headers.get('x-gateway-request-id'), 'azure-gpt-4o', upstream);
    expect(record.provider).toBe('azure');
    expect(record.cachedInputTokens).toBe(3);
    const after = await budgetTotals(stack);
    expect(Math.round((after.spent - before.spent) * 1e9)).toBeGreaterThanOrEqual(record.costNano - 1);
    expect(after.reserved).toBe(0);
  });

  it('streams through a deployment and books the usage chunk it asked for (stripped for the client)', async () => {
    const stream = await stack
      .openai(TEST_KEY, { defaultHeaders: { 'x-mock-output-tokens': '6' } })
      .chat.completions.create({ model: 'azure-gpt-4o', messages: MESSAGES, stream: true });
    let usageSeen = false;
    let text = '';
    for await (const chunk of stream) {
      if (chunk.usage) usageSeen = true;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(usageSeen).toBe(false);
    expect(text.split(' ').length).toBe(6);
    const upstream = only();
    expect(upstream.path).toBe('/openai/deployments/prod-gpt4o/chat/completions');
    await expectBooked(stack.records.at(-1)?.requestId ?? null, 'azure-gpt-4o', upstream);
  });

  it('uses the v1 API (/openai/v1/..., model in the body) when api_version is v1', async () => {
    const { response } = await stack
      .openai()
      .chat.completions.create({ model: 'azure-v1-mini', messages: MESSAGES, max_tokens: 20 })
      .withResponse();
    const upstream = only();
    expect(upstream.path).toBe('/openai/v1/chat/completions');
    expect(upstream.model).toBe('gpt-4o-mini');
    await expectBooked(response.headers.get('x-gateway-request-id'), 'azure-v1-mini', upstream);
  });
});

describe('OpenAI-compatible servers', () => {
  it('DeepSeek: prompt_cache_hit_tokens are billed at the cached price', async () => {
    const { data, response } = await stack
      .openai(TEST_KEY, { defaultHeaders: { 'x-mock-variant': 'deepseek', 'x-mock-cached-tokens': '8' } })
      .chat.completions.create({ model: 'deepseek-chat', messages: MESSAGES, max_tokens: 30 })
      .withResponse();
    const usage = data.usage as unknown as Record<string, unknown>;
    expect(usage.prompt_cache_hit_tokens).toBe(8);
    expect(usage.prompt_tokens_details).toBeUndefined();
    const upstream = only();
    expect(upstream.headers.authorization).toBe(`Bearer ${COMPAT_UPSTREAM_KEY}`);
    const record = await expectBooked(
      response.headers.get('x-gateway-request-id'),
      'deepseek-chat',
      upstream,
    );
    expect(record.cachedInputTokens).toBe(8);
  });

  it('OpenRouter: usage.cost is recorded beside the cost at our price, which is what is billed', async () => {
    const { data, response } = await stack
      .openai(TEST_KEY, { defaultHeaders: { 'x-mock-variant': 'openrouter', 'x-mock-output-tokens': '20' } })
      .chat.completions.create({ model: 'or-llama', messages: MESSAGES, max_tokens: 30 })
      .withResponse();
    const upstream = only();
    const record = await expectBooked(response.headers.get('x-gateway-request-id'), 'or-llama', upstream);
    const usage = data.usage as unknown as { prompt_tokens: number; completion_tokens: number; cost: number };
    const reported =
      (usage.prompt_tokens * MOCK_OPENROUTER_PRICES.input +
        usage.completion_tokens * MOCK_OPENROUTER_PRICES.output) *
      1000;
    expect(record.providerCostNano).toBe(Math.ceil(reported));
    expect(record.providerCostNano).not.toBe(record.costNano);
  });

  it('Groq: a stream whose usage is in x_groq is billed from it', async () => {
    const stream = await stack
      .openai(TEST_KEY, { defaultHeaders: { 'x-mock-variant': 'groq', 'x-mock-output-tokens': '7' } })
      .chat.completions.create({ model: 'groq-llama', messages: MESSAGES, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.split(' ').length).toBe(7);
    const upstream = only();
    const record = await expectBooked(stack.records.at(-1)?.requestId ?? null, 'groq-llama', upstream);
    expect(record.settlement).toBe('usage');
  });

  it('stream_usage: false sends no stream_options and bills the streamed text', async () => {
    const stream = await stack
      .openai(TEST_KEY, {
        defaultHeaders: { 'x-mock-variant': 'no-stream-options', 'x-mock-output-tokens': '9' },
      })
      .chat.completions.create({
        model: 'vllm-qwen',
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.split(' ').length).toBe(9);
    const upstream = only();
    expect(upstream.body).not.toHaveProperty('stream_options');
    expect(upstream.usage).toBeNull();
    const record = await recordOf(stack, stack.records.at(-1)?.requestId ?? null);
    expect(record.settlement).toBe('counted');
    // The mock's words are one token each: the counted output is exactly what was streamed.
    expect(record.outputTokens).toBe(9);
    expect(record.inputTokens).toBeGreaterThan(0);
  });
});
