/**
 * The mock speaks Gemini and Azure OpenAI as they answer: Gemini JSON, CRLF-framed SSE with
 * cumulative usageMetadata, countTokens, Google's errors and key checks (header or ?key=); Azure's
 * api-key and api-version checks; an unknown x-mock-variant refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from './server.js';

let mock: MockProvider;

beforeAll(async () => {
  mock = await startMockProvider({ googleApiKey: 'gk', azureApiKey: 'ak', openaiApiKey: 'ok' });
});
afterAll(async () => {
  await mock?.close();
});

const CONTENTS = [{ role: 'user', parts: [{ text: 'hello' }] }];

function gemini(
  method: string,
  body: unknown,
  headers: Record<string, string> = { 'x-goog-api-key': 'gk' },
  query = '',
) {
  return fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:${method}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('mock Gemini', () => {
  it('answers generateContent with candidates, usageMetadata and a MAX_TOKENS cut at the cap', async () => {
    const response = await gemini(
      'generateContent',
      { contents: CONTENTS, generationConfig: { maxOutputTokens: 5, candidateCount: 2 } },
      { 'x-goog-api-key': 'gk', 'x-mock-output-tokens': '8', 'x-mock-reasoning-tokens': '2' },
    );
    expect(response.status).toBe(200);
    const json = (await response.json()) as {
      candidates: Array<{ finishReason: string; content: { parts: Array<{ text: string }> } }>;
      usageMetadata: Record<string, number>;
    };
    expect(json.candidates).toHaveLength(2);
    expect(json.candidates[0]?.finishReason).toBe('MAX_TOKENS');
    // Thoughts inside maxOutputTokens: 2 thoughts + 3 text tokens per candidate.
    expect(json.usageMetadata).toMatchObject({ candidatesTokenCount: 6, thoughtsTokenCount: 4 });
    expect(mock.served.at(-1)?.usage).toMatchObject({ output_tokens: 10, reasoning_tokens: 4 });
  });

  it('streams data: events with CRLF framing and the totals so far; the last has finishReason', async () => {
    const response = await gemini(
      'streamGenerateContent',
      { contents: CONTENTS },
      { 'x-goog-api-key': 'gk', 'x-mock-output-tokens': '4' },
      '?alt=sse',
    );
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const events = text.split('\r\n\r\n').filter((e) => e.length > 0);
    expect(events).toHaveLength(4);
    const parsed = events.map(
      (e) =>
        JSON.parse(e.replace(/^data: /, '')) as {
          usageMetadata: { candidatesTokenCount: number };
          candidates: Array<{ finishReason?: string }>;
        },
    );
    expect(parsed.map((e) => e.usageMetadata.candidatesTokenCount)).toEqual([1, 2, 3, 4]);
    expect(parsed[3]?.candidates[0]?.finishReason).toBe('STOP');
    expect(parsed[0]?.candidates[0]?.finishReason).toBeUndefined();
  });

  it('counts tokens, takes ?key=, and answers errors in Google format', async () => {
    const counted = (await (await gemini('countTokens', { contents: CONTENTS }, {}, '?key=gk')).json()) as {
      totalTokens: number;
    };
    expect(counted.totalTokens).toBeGreaterThan(0);
    const badKey = await gemini('generateContent', { contents: CONTENTS }, { 'x-goog-api-key': 'nope' });
    expect(badKey.status).toBe(400);
    expect(((await badKey.json()) as { error: { status: string } }).error.status).toBe('INVALID_ARGUMENT');
    const noKey = await gemini('generateContent', { contents: CONTENTS }, {});
    expect(noKey.status).toBe(403);
    const withModel = await gemini('generateContent', { model: 'x', contents: CONTENTS });
    expect(withModel.status).toBe(400);
    const injected = await gemini(
      'generateContent',
      { contents: CONTENTS },
      { 'x-goog-api-key': 'gk', 'x-mock-fail': 'status:429' },
    );
    expect(await injected.json()).toEqual({
      error: { code: 429, message: 'Injected 429 from the mock provider.', status: 'RESOURCE_EXHAUSTED' },
    });
  });
});

describe('mock Azure OpenAI and compatible variants', () => {
  const chat = (path: string, headers: Record<string, string>) =>
    fetch(`${mock.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('checks api-key and api-version on deployment URLs', async () => {
    expect(
      (await chat('/openai/deployments/d1/chat/completions?api-version=2024-10-21', { 'api-key': 'ak' }))
        .status,
    ).toBe(200);
    const wrongKey = await chat('/openai/deployments/d1/chat/completions?api-version=2024-10-21', {
      'api-key': 'x',
    });
    expect(wrongKey.status).toBe(401);
    expect(((await wrongKey.json()) as { error: { code: string } }).error.code).toBe('401');
    expect((await chat('/openai/deployments/d1/chat/completions', { 'api-key': 'ak' })).status).toBe(404);
    expect((await chat('/openai/v1/chat/completions', { 'api-key': 'ak' })).status).toBe(200);
  });

  it('refuses an unknown variant and stream_options on no-stream-options', async () => {
    expect(
      (await chat('/v1/chat/completions', { authorization: 'Bearer ok', 'x-mock-variant': 'nope' })).status,
    ).toBe(400);
    const refused = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer ok',
        'x-mock-variant': 'no-stream-options',
      },
      body: JSON.stringify({
        model: 'm',
        messages: [],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(refused.status).toBe(400);
  });
});
