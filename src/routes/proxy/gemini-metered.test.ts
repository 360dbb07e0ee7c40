/**
 * Plain Gemini requests are metered (issue #17, docs/controls.md "Metered answers"): a
 * generateContent goes upstream to `:streamGenerateContent?alt=sse`, the events are assembled into
 * the generateContent JSON the provider answers plain, and at the budget's end the answer is cut as
 * Gemini ends one at its cap (finishReason MAX_TOKENS). Compared with what the mock answers plain
 * for the same request, through the official @google/genai SDK.
 */
import { GoogleGenAI } from '@google/genai';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { geminiPromptTokens } from '../../mock/gemini.js';
import type { ServedRecord } from '../../mock/server.js';
import { pricePerMillionToPico } from '../../money.js';
import { costOfUsage, type ModelPrice } from '../../usage.js';
import { usageOf } from './stack.test-helpers.js';

const GOOGLE_UPSTREAM_KEY = 'goog-upstream-secret-0004';
/** gemini-2.5-flash's list prices, as in the YAML below. */
const FLASH: ModelPrice = {
  input: pricePerMillionToPico(0.3),
  output: pricePerMillionToPico(2.5),
  cachedInput: pricePerMillionToPico(0.03),
  cacheWrite: pricePerMillionToPico(0.3),
};
const MODEL_PATH = '/v1beta/models/gemini-2.5-flash';
const CONTENTS = [{ role: 'user', parts: [{ text: 'Write a long story about budgets.' }] }];

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function start(limitUsd: number, sliceTokens = 256): Promise<Stack> {
  stack = await startStack({
    mock: { googleApiKey: GOOGLE_UPSTREAM_KEY },
    mockUrlPlaceholder: 'MOCK_URL',
    providersYaml: `  google: { kind: google, base_url: "MOCK_URL", api_key: "${GOOGLE_UPSTREAM_KEY}" }`,
    // hidden_reasoning false: metered although 2.5 Flash thinks by default (its default is true).
    modelsYaml: `  gemini-2.5-flash: { provider: google, input: 0.30, output: 2.50, cached_input: 0.03, max_output_tokens: 65536, hidden_reasoning: false }`,
    extraYaml: `
budgets:
  - { id: small, scope: global, limit_usd: ${limitUsd}, period: none }
budgeting: { stream_slice_tokens: ${sliceTokens}, max_wait_ms: 0 }
`,
  });
  return stack;
}

function genai(s: Stack, headers: Record<string, string>): GoogleGenAI {
  return new GoogleGenAI({ apiKey: TEST_KEY, httpOptions: { baseUrl: s.gateway.url, headers } });
}

async function booksOf(s: Stack) {
  const budgets = await s.gateway.engine.budgetsFor(
    { keyId: 'alpha', user: 'alice', team: 'web', tags: [], anonymous: false },
    Date.now(),
  );
  return budgets.find((b) => b.budget.id === 'small')!;
}

/** The one request the gateway sent upstream. */
function upstreamOf(s: Stack): ServedRecord {
  expect(s.mock.served).toHaveLength(1);
  return s.mock.served[0]!;
}

/** What the mock answers plain for the body the gateway sent upstream, with the same mock headers. */
async function mockPlain(
  s: Stack,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ text: string; served: ServedRecord }> {
  const response = await fetch(`${s.mock.url}${MODEL_PATH}:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': GOOGLE_UPSTREAM_KEY, ...headers },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return { text: await response.text(), served: s.mock.served.at(-1)! };
}

/** The responseId is the mock's random id per request: both answers are compared with it set to one value. */
function sameId(json: string): string {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  expect(parsed.responseId).toEqual(expect.any(String));
  return JSON.stringify({ ...parsed, responseId: 'ID' });
}

function servedCost(served: ServedRecord): number {
  if (!served.usage) throw new Error('the mock reported no usage');
  return costOfUsage(usageOf(served.usage), FLASH);
}

/** Thoughts, an explicit cache's tokens, two candidates and several chunks: every usage field. */
const RICH = {
  'x-mock-output-tokens': '40',
  'x-mock-reasoning-tokens': '30',
  'x-mock-cached-tokens': '4',
  'x-mock-chunks': '5',
};
const RICH_CONFIG = { maxOutputTokens: 200, candidateCount: 2, thinkingConfig: { thinkingBudget: 50 } };

describe('plain Gemini generateContent, metered', () => {
  it('under a big budget answers exactly what the provider answers plain, billed the same', async () => {
    const s = await start(1000);
    const response = await genai(s, RICH).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
      config: RICH_CONFIG,
    });
    const upstream = upstreamOf(s);
    expect(upstream.path).toBe(`${MODEL_PATH}:streamGenerateContent`);
    expect(upstream.query).toBe('alt=sse');
    expect(upstream.stream).toBe(true);
    expect(upstream.completed).toBe(true);
    const plain = await mockPlain(s, upstream.body, RICH);
    const expected = JSON.parse(plain.text) as Record<string, unknown>;
    // The SDK's answer, field for field: candidates (text, finishReason STOP, index), usageMetadata
    // with thoughtsTokenCount and cachedContentTokenCount, modelVersion; responseId the stream's.
    expect({
      candidates: response.candidates,
      usageMetadata: response.usageMetadata,
      modelVersion: response.modelVersion,
      responseId: response.responseId,
    }).toEqual({ ...expected, responseId: upstream.id });
    expect(response.usageMetadata?.thoughtsTokenCount).toBe(60);
    expect(response.usageMetadata?.cachedContentTokenCount).toBe(4);
    expect(response.candidates?.[1]?.finishReason).toBe('STOP');
    await eventually(() => expect(s.records).toHaveLength(1));
    const record = s.records[0]!;
    expect(record.metered).toBe(true);
    expect(record.cutAtBudget).toBe(false);
    expect(record.settlement).toBe('usage');
    expect(record.outputTokens).toBe(2 * (40 + 30));
    // Billed the same as the plain answer: its usage (reported by the mock both ways) at the YAML price.
    expect(servedCost(plain.served)).toBe(servedCost(upstream));
    expect(Math.abs(record.costNano - servedCost(plain.served))).toBeLessThanOrEqual(1);
    const books = await booksOf(s);
    expect(Math.abs(books.spentNano - servedCost(plain.served))).toBeLessThanOrEqual(1);
    expect(books.reservedNano).toBe(0);
  });

  it('the bytes are the provider plain JSON: same fields in the same order', async () => {
    const s = await start(1000);
    const headers = { 'x-mock-output-tokens': '25', 'x-mock-chunks': '4' };
    const response = await fetch(`${s.gateway.url}${MODEL_PATH}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': TEST_KEY, ...headers },
      body: JSON.stringify({ contents: CONTENTS, generationConfig: { maxOutputTokens: 100 } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const answer = await response.text();
    const upstream = upstreamOf(s);
    expect(upstream.query).toBe('alt=sse');
    const plain = await mockPlain(s, upstream.body, headers);
    expect(sameId(answer)).toBe(sameId(plain.text));
    expect(JSON.parse(answer).responseId).toBe(upstream.id);
  });

  it('under a small budget is metered and cut at the budget as Gemini ends at its cap', async () => {
    // $0.0025 is 1,000 output tokens of gemini-2.5-flash (less the short prompt); the answer is 3,000.
    const limitUsd = 0.0025;
    const s = await start(limitUsd);
    const long = { 'x-mock-output-tokens': '3000', 'x-mock-chunks': '3000', 'x-mock-chunk-delay-ms': '1' };
    const response = await genai(s, long).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
    });
    const candidate = response.candidates?.[0];
    expect(candidate?.finishReason).toBe('MAX_TOKENS');
    expect(response.text?.length ?? 0).toBeGreaterThan(0);
    expect(response.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    expect(response.modelVersion).toBe('gemini-2.5-flash');
    await eventually(() => expect(s.records).toHaveLength(1));
    const record = s.records[0]!;
    expect(record.metered).toBe(true);
    expect(record.extensions > 0 || record.cutAtBudget).toBe(true);
    const upstream = upstreamOf(s);
    expect(upstream.path).toBe(`${MODEL_PATH}:streamGenerateContent`);
    await eventually(() => expect(upstream.completed || upstream.clientClosedAt !== null).toBe(true));
    // What the mock served: its usage when it finished, else the prompt and the text it wrote.
    const served = upstream.usage
      ? servedCost(upstream)
      : costOfUsage(
          {
            inputTokens: geminiPromptTokens(upstream.body as Record<string, unknown>),
            cachedInputTokens: 0,
            cacheWriteTokens: 0,
            outputTokens: upstream.outputTokensSent,
            reasoningTokens: 0,
          },
          FLASH,
        );
    expect(upstream.outputTokensSent).toBeLessThan(1200);
    const books = await booksOf(s);
    expect(books.spentNano).toBeLessThanOrEqual(limitUsd * 1e9);
    expect(books.spentNano).toBeGreaterThanOrEqual(served);
    expect(books.spentNano).toBeGreaterThan(limitUsd * 1e9 * 0.9);
    expect(books.reservedNano).toBe(0);
    console.log(
      `gemini plain metered: served ${upstream.outputTokensSent} tokens, extensions ${record.extensions}, cut ${record.cutAtBudget}, books ${books.spentNano} of ${limitUsd * 1e9} nano (served ${served})`,
    );
  });

  it('a stream that ends unfinished is a provider error in Google format, not an empty answer', async () => {
    const s = await start(1000);
    // garbage-sse: two chunks, then malformed events and the end, no final chunk.
    const response = await fetch(`${s.gateway.url}${MODEL_PATH}:generateContent`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-goog-api-key': TEST_KEY,
        'x-mock-fail': 'garbage-sse',
        'x-mock-chunks': '5',
        'x-mock-output-tokens': '10',
      },
      body: JSON.stringify({ contents: CONTENTS }),
    });
    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { code: number; status: string; message: string } };
    expect(body.error).toMatchObject({ code: 502, status: 'UNAVAILABLE' });
    expect(body.error.message).toContain('before it finished');
    await eventually(() => expect(s.records).toHaveLength(1));
    const record = s.records[0]!;
    expect(record.errorCode).toBe('provider_unreachable');
    // Output came: billed what the reservation held (the provider's count is lost), nothing left held.
    expect(record.settlement).toBe('reserved');
    const books = await booksOf(s);
    expect(books.spentNano).toBe(record.costNano);
    expect(books.reservedNano).toBe(0);
  });

  it('with metering off (stream_slice_tokens: 0) goes upstream plain, as before', async () => {
    const s = await start(1000, 0);
    const response = await genai(s, { 'x-mock-output-tokens': '12' }).models.generateContent({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
      config: { maxOutputTokens: 50 },
    });
    expect(response.usageMetadata?.candidatesTokenCount).toBe(12);
    const upstream = upstreamOf(s);
    expect(upstream.path).toBe(`${MODEL_PATH}:generateContent`);
    expect(upstream.query).toBe('');
    await eventually(() => expect(s.records).toHaveLength(1));
    expect(s.records[0]!.metered).toBe(false);
  });
});
