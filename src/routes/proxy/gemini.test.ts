/**
 * The Gemini API through the whole stack with the official @google/genai SDK (httpOptions.baseUrl
 * at the gateway): plain, streamed and countTokens calls, each budgeted at the YAML price of what
 * the mock served; `?key=` auth; budget denials in Google's error format.
 */
import { ApiError, GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import type { ServedRecord } from '../../mock/server.js';
import { pricePerMillionToPico } from '../../money.js';
import { costOfUsage, type ModelPrice } from '../../usage.js';
import { budgetTotals, recordOf, usageOf } from './stack.test-helpers.js';

const GOOGLE_UPSTREAM_KEY = 'goog-upstream-secret-0003';
const POOR_KEY = 'sk-gw-test-key-poor-gemini';
/** gemini-2.5-flash's list prices (USD per million tokens), written in YAML until the catalogue has them. */
const FLASH: ModelPrice = {
  input: pricePerMillionToPico(0.3),
  output: pricePerMillionToPico(2.5),
  cachedInput: pricePerMillionToPico(0.03),
  cacheWrite: pricePerMillionToPico(0.3),
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    mock: { googleApiKey: GOOGLE_UPSTREAM_KEY },
    mockUrlPlaceholder: 'MOCK_URL',
    providersYaml: `  google: { kind: google, base_url: "MOCK_URL", api_key: "${GOOGLE_UPSTREAM_KEY}" }`,
    modelsYaml: `  gemini-2.5-flash: { provider: google, input: 0.30, output: 2.50, cached_input: 0.03, max_output_tokens: 65536 }
  flash-alias: { provider: google, upstream_model: gemini-2.5-flash, input: 0.30, output: 2.50, cached_input: 0.03, max_output_tokens: 65536 }`,
    keysYaml: `keys:
  - { id: alpha, key: "${TEST_KEY}", team: web, user: alice }
  - { id: poor, key: "${POOR_KEY}", team: poor }`,
    extraYaml: `budgets:
  - { id: all-spend, scope: { team: web }, limit_usd: 1000, period: monthly }
  - { id: poor-budget, scope: { team: poor }, limit_usd: 0.0001, period: monthly }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

function genai(key = TEST_KEY, headers: Record<string, string> = {}): GoogleGenAI {
  return new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: stack.gateway.url, headers } });
}

function served(): ServedRecord {
  const list = stack.mock.served.filter((s) => s.path.startsWith('/v1beta/'));
  expect(list).toHaveLength(1);
  return list[0] as ServedRecord;
}

function mockCost(record: ServedRecord): number {
  if (!record.usage) throw new Error('the mock reported no usage');
  return costOfUsage(usageOf(record.usage), FLASH);
}

const CONTENTS = [{ role: 'user', parts: [{ text: 'Say hello to the budget gateway.' }] }];

describe('Gemini generateContent through the gateway (@google/genai)', () => {
  it('answers a plain call and books the YAML price of the usage the mock reported', async () => {
    const before = await budgetTotals(stack);
    const response = await genai(TEST_KEY, {
      'x-mock-output-tokens': '12',
      'x-mock-cached-tokens': '4',
    }).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
      config: { maxOutputTokens: 50 },
    });
    expect(response.text).toMatch(/^Hello/);
    expect(response.usageMetadata?.candidatesTokenCount).toBe(12);
    const upstream = served();
    // Not metered: gemini-2.5-flash thinks by default and streams no thoughts (hidden_reasoning's
    // default), so it reserves its whole cap and goes upstream plain (gemini-metered.test.ts meters).
    expect(upstream.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    // The provider got the gateway's key, not the client's, and no model field in the body.
    expect(upstream.headers['x-goog-api-key']).toBe(GOOGLE_UPSTREAM_KEY);
    expect(JSON.stringify(upstream.headers)).not.toContain(TEST_KEY);
    expect(upstream.body).not.toHaveProperty('model');
    const record = stack.records.at(-1);
    expect(record?.endpoint).toBe('/v1beta/models/{model}:generateContent');
    expect(record?.cachedInputTokens).toBe(4);
    const cost = mockCost(upstream);
    expect(Math.abs((record?.costNano ?? 0) - cost)).toBeLessThanOrEqual(1);
    const after = await budgetTotals(stack);
    expect(Math.round((after.spent - before.spent) * 1e9)).toBeGreaterThanOrEqual(cost - 1);
    expect(Math.round((after.spent - before.spent) * 1e9)).toBeLessThanOrEqual(cost + 1);
    expect(after.reserved).toBe(0);
  });

  it('streams (alt=sse) chunk by chunk and books the last usageMetadata', async () => {
    const stream = await genai(TEST_KEY, {
      'x-mock-output-tokens': '9',
      'x-mock-chunks': '3',
    }).models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
    });
    let text = '';
    let chunks = 0;
    let last: number | undefined;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      chunks++;
      last = chunk.usageMetadata?.candidatesTokenCount;
    }
    expect(chunks).toBe(3);
    expect(last).toBe(9);
    expect(text.split(' ').length).toBe(9);
    const upstream = served();
    expect(upstream.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(upstream.completed).toBe(true);
    // No cap was sent: the gateway set one, the model's maximum (fit to the budget).
    expect(
      (upstream.body as { generationConfig?: { maxOutputTokens?: number } }).generationConfig
        ?.maxOutputTokens,
    ).toBe(65536);
    const record = await recordOf(stack, stack.records.at(-1)?.requestId ?? null);
    expect(record.stream).toBe(true);
    expect(record.settlement).toBe('usage');
    expect(Math.abs(record.costNano - mockCost(upstream))).toBeLessThanOrEqual(1);
  });

  it('a stream that breaks midway is billed for what was relayed (the running usageMetadata)', async () => {
    const stream = await genai(TEST_KEY, {
      'x-mock-output-tokens': '10',
      'x-mock-chunks': '5',
      'x-mock-fail': 'broken-stream:2',
    }).models.generateContentStream({ model: 'gemini-2.5-flash', contents: CONTENTS });
    let text = '';
    await (async () => {
      for await (const chunk of stream) text += chunk.text ?? '';
    })().catch(() => {});
    // Two chunks of two tokens each were relayed before the provider broke the connection.
    expect(text.trim().split(' ').length).toBe(4);
    const record = await recordOf(stack, stack.records.at(-1)?.requestId ?? null);
    expect(record.outputTokens).toBe(4);
    expect(record.inputTokens).toBeGreaterThan(0);
    expect((await budgetTotals(stack)).reserved).toBe(0);
  });

  it('bills thoughts as output and reserves maxOutputTokens + thinkingBudget per candidate', async () => {
    const response = await genai(TEST_KEY, {
      'x-mock-output-tokens': '10',
      'x-mock-reasoning-tokens': '30',
    }).models.generateContent({
      model: 'flash-alias',
      contents: CONTENTS,
      config: { maxOutputTokens: 100, candidateCount: 2, thinkingConfig: { thinkingBudget: 40 } },
    });
    expect(response.candidates).toHaveLength(2);
    expect(response.usageMetadata?.thoughtsTokenCount).toBe(60);
    const upstream = served();
    expect(upstream.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    const record = stack.records.at(-1);
    expect(record?.requestedModel).toBe('flash-alias');
    expect(record?.outputTokens).toBe(80);
    expect(record?.reasoningTokens).toBe(60);
    expect(Math.abs((record?.costNano ?? 0) - mockCost(upstream))).toBeLessThanOrEqual(1);
    // Reserved: 2 candidates x (100 + 40) output tokens at $2.50/M, plus the prompt at $0.30/M.
    const promptTokens = ((record?.estimateNano ?? 0) - 2 * 140 * 2500) / 300;
    expect(Number.isInteger(promptTokens)).toBe(true);
    expect(promptTokens).toBeGreaterThan(0);
  });

  it('answers countTokens from the provider, free: nothing reserved or spent', async () => {
    const before = await budgetTotals(stack);
    const records = stack.records.length;
    const counted = await genai().models.countTokens({ model: 'gemini-2.5-flash', contents: CONTENTS });
    expect(counted.totalTokens).toBeGreaterThan(5);
    const upstream = served();
    expect(upstream.path).toBe('/v1beta/models/gemini-2.5-flash:countTokens');
    expect(upstream.headers['x-goog-api-key']).toBe(GOOGLE_UPSTREAM_KEY);
    const after = await budgetTotals(stack);
    expect(after.spent).toBe(before.spent);
    expect(stack.records.length).toBe(records);
  });

  it('takes the virtual key as ?key= and never passes it on', async () => {
    const response = await fetch(
      `${stack.gateway.url}/v1beta/models/gemini-2.5-flash:generateContent?key=${TEST_KEY}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: CONTENTS, generation_config: { max_output_tokens: 7 } }),
      },
    );
    expect(response.status).toBe(200);
    const upstream = served();
    expect(JSON.stringify(upstream)).not.toContain(TEST_KEY);
    // The record (log line, ledger, metrics) keeps the endpoint template, never the URL with the key.
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.keyId).toBe('alpha');
    expect(JSON.stringify(record)).not.toContain(TEST_KEY);
    // snake_case fields are read (and sent) as their camelCase names: one cap, the one reserved.
    expect(upstream.body).toEqual({ contents: CONTENTS, generationConfig: { maxOutputTokens: 7 } });
  });

  it('refuses a bad key, an unknown model and an unpriced tool in Google format', async () => {
    const badKey = await genai('sk-gw-unknown-key')
      .models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS })
      .catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(ApiError);
    expect((badKey as ApiError).status).toBe(401);
    expect(JSON.parse((badKey as ApiError).message).error.status).toBe('UNAUTHENTICATED');
    const unknown = await fetch(`${stack.gateway.url}/v1beta/models/gemini-9:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': TEST_KEY },
      body: JSON.stringify({ contents: CONTENTS }),
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { status: string } }).error.status).toBe('NOT_FOUND');
    const search = await fetch(`${stack.gateway.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': TEST_KEY },
      body: JSON.stringify({ contents: CONTENTS, tools: [{ googleSearch: {} }] }),
    });
    expect(search.status).toBe(400);
    const body = (await search.json()) as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(body.error.message).toContain('googleSearch');
    expect(stack.mock.served).toHaveLength(0);
  });

  it('prices a Gemini request with POST /v1/cost/estimate, the model taken from the endpoint path', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
      body: JSON.stringify({
        endpoint: '/v1beta/models/gemini-2.5-flash:generateContent',
        contents: CONTENTS,
        generationConfig: { maxOutputTokens: 100, candidateCount: 2 },
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      model: string;
      max_output_tokens: number;
      prompt_tokens: number;
      estimated_cost: string;
    };
    expect(body.model).toBe('gemini-2.5-flash');
    expect(body.max_output_tokens).toBe(100);
    // 2 candidates x 100 tokens at $2.50/M plus the prompt at $0.30/M, in nano-USD.
    expect(Math.round(Number(body.estimated_cost) * 1e9)).toBe(2 * 100 * 2500 + body.prompt_tokens * 300);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('answers an exhausted budget with 429 RESOURCE_EXHAUSTED, nothing sent upstream', async () => {
    const error = await genai(POOR_KEY)
      .models.generateContent({
        model: 'gemini-2.5-flash',
        contents: CONTENTS,
        config: { maxOutputTokens: 1000 },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    const body = JSON.parse((error as ApiError).message) as {
      error: { code: number; status: string; message: string; details: Array<{ reason?: string }> };
    };
    expect(body.error.code).toBe(429);
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.message).toContain('poor-budget');
    expect(body.error.details[0]?.reason).toBe('BUDGET_EXCEEDED');
    expect(stack.mock.served).toHaveLength(0);
  });
});
