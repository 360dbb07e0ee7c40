/**
 * The Gemini adapter's pieces that the stack tests reach only in part: usage mapping, the output
 * cap with thinking budgets, snake_case fields, the stream tap's cap and error endings, and the
 * assembler that turns a stream back into the plain answer.
 */
import { describe, expect, it } from 'vitest';
import { promptTokens } from '../tokens/estimate.js';
import type { Usage } from '../usage.js';
import {
  geminiGenerateAdapter,
  geminiStreamAdapter,
  geminiUsage,
  normaliseGeminiFields,
  parseGeminiPath,
  setGeminiCap,
  usageMetadataOf,
} from './gemini.js';
import { GeminiAssembler, GeminiStreamTap, geminiSseEvent } from './gemini-stream.js';

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array | null) => new TextDecoder().decode(bytes ?? new Uint8Array());

function chunk(text: string, usage: Record<string, number>, finishReason?: string, index = 0): string {
  return geminiSseEvent({
    candidates: [
      { content: { parts: [{ text }], role: 'model' }, ...(finishReason ? { finishReason } : {}), index },
    ],
    usageMetadata: usage,
    modelVersion: 'gemini-2.5-flash',
    responseId: 'resp-1',
  });
}

describe('geminiUsage', () => {
  it('bills cached content at the cached price, tool-use prompts as input, thoughts as output', () => {
    expect(
      geminiUsage({
        promptTokenCount: 100,
        cachedContentTokenCount: 40,
        toolUsePromptTokenCount: 7,
        candidatesTokenCount: 20,
        thoughtsTokenCount: 30,
        totalTokenCount: 157,
      }),
    ).toEqual({
      inputTokens: 67,
      cachedInputTokens: 40,
      cacheWriteTokens: 0,
      outputTokens: 50,
      reasoningTokens: 30,
    });
    expect(geminiUsage(undefined)).toBeUndefined();
    // More cached than prompt is nonsense: never a negative input.
    expect(geminiUsage({ promptTokenCount: 5, cachedContentTokenCount: 9 })?.inputTokens).toBe(0);
  });

  it('round-trips through usageMetadataOf', () => {
    const usage: Usage = {
      inputTokens: 60,
      cachedInputTokens: 40,
      cacheWriteTokens: 0,
      outputTokens: 50,
      reasoningTokens: 30,
    };
    expect(geminiUsage(usageMetadataOf(usage))).toEqual(usage);
  });
});

describe('the Gemini output cap', () => {
  it('reserves maxOutputTokens + an explicit thinking budget, per candidate', () => {
    const body = {
      contents: [],
      generationConfig: { maxOutputTokens: 100, candidateCount: 3, thinkingConfig: { thinkingBudget: 50 } },
    };
    expect(geminiGenerateAdapter.requestedOutputCap(body)).toBe(150);
    expect(geminiGenerateAdapter.worstCase(body).outputMultiplier).toBe(3);
    // Dynamic (-1) and off (0) add nothing: maxOutputTokens bounds what the model spends.
    const dynamic = {
      contents: [],
      generationConfig: { maxOutputTokens: 100, thinkingConfig: { thinkingBudget: -1 } },
    };
    expect(geminiGenerateAdapter.requestedOutputCap(dynamic)).toBe(100);
    expect(geminiGenerateAdapter.requestedOutputCap({ contents: [] })).toBeUndefined();
  });

  it('a lowered cap keeps maxOutputTokens + thinkingBudget within it, in proportion', () => {
    const body: Record<string, unknown> = {
      generationConfig: {
        maxOutputTokens: 300,
        temperature: 0.2,
        thinkingConfig: { thinkingBudget: 100, includeThoughts: true },
      },
    };
    setGeminiCap(body, 200);
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 150,
      temperature: 0.2,
      thinkingConfig: { thinkingBudget: 50, includeThoughts: true },
    });
    const plain: Record<string, unknown> = { contents: [] };
    setGeminiCap(plain, 64);
    expect(plain.generationConfig).toEqual({ maxOutputTokens: 64 });
  });

  it('reads snake_case fields as their camelCase names, and refuses a body with both', () => {
    const body: Record<string, unknown> = {
      contents: [{ parts: [{ text: 'hi' }] }],
      generation_config: { max_output_tokens: 9, thinking_config: { thinking_budget: 4 } },
    };
    expect(geminiGenerateAdapter.validate(body)).toBeNull();
    expect(body).toEqual({
      contents: [{ parts: [{ text: 'hi' }] }],
      generationConfig: { maxOutputTokens: 9, thinkingConfig: { thinkingBudget: 4 } },
    });
    expect(geminiGenerateAdapter.alignCapFields?.(body)).toBe(true);
    expect(geminiGenerateAdapter.requestedOutputCap(body)).toBe(13);
    const both = { generationConfig: { maxOutputTokens: 1 }, generation_config: { max_output_tokens: 9000 } };
    const refused = normaliseGeminiFields(both);
    expect(refused).not.toBe(true);
    expect(refused).not.toBe(false);
  });

  it('validates contents and generationConfig, naming the field', () => {
    expect(geminiGenerateAdapter.validate({})?.param).toBe('contents');
    expect(geminiGenerateAdapter.validate({ contents: [{ role: 'user' }] })?.param).toBe('contents[0].parts');
    expect(
      geminiGenerateAdapter.validate({ contents: [{ parts: [] }], generationConfig: { candidateCount: 9 } })
        ?.param,
    ).toBe('generationConfig.candidateCount');
    expect(
      geminiGenerateAdapter.validate({
        contents: [{ parts: [] }],
        generationConfig: { responseModalities: ['IMAGE'] },
      })?.param,
    ).toBe('generationConfig.responseModalities');
  });

  it('takes the model from the path and sends it there', () => {
    expect(parseGeminiPath('/v1beta/models/gemini-2.5-pro:streamGenerateContent')).toEqual({
      model: 'gemini-2.5-pro',
      method: 'streamGenerateContent',
    });
    expect(parseGeminiPath('/v1beta/models/a/b:generateContent')).toBeUndefined();
    expect(geminiStreamAdapter.upstreamPathFor?.('gemini-2.5-flash')).toBe(
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    // A plain request metered goes to the streaming URL, the body unchanged.
    expect(geminiGenerateAdapter.canStreamUpstream({ contents: [] })).toBe(true);
    expect(geminiGenerateAdapter.upstreamStreamPathFor?.('m')).toBe(
      '/v1beta/models/m:streamGenerateContent?alt=sse',
    );
    expect(geminiGenerateAdapter.asUpstreamStream({ contents: [] })).toEqual({ contents: [] });
    // An explicit cache adds context by reference: admission reserves the model's window for it.
    expect(geminiGenerateAdapter.conversationState({ cachedContent: 'cachedContents/abc' })).toEqual({
      conversationId: 'cachedContents/abc',
    });
  });

  it('counts the prompt: system instruction, turns, tools; an image at its tile allowance', () => {
    const text = promptTokens(
      'gemini',
      { contents: [{ role: 'user', parts: [{ text: 'hello there' }] }] },
      'gemini-2.5-flash',
    );
    const withImage = promptTokens(
      'gemini',
      {
        contents: [
          {
            role: 'user',
            parts: [{ text: 'hello there' }, { inlineData: { mimeType: 'image/png', data: 'AAAA' } }],
          },
        ],
      },
      'gemini-2.5-flash',
    );
    expect(withImage - text).toBe(1290);
    const withSystem = promptTokens(
      'gemini',
      {
        systemInstruction: { parts: [{ text: 'be brief' }] },
        contents: [{ role: 'user', parts: [{ text: 'hello there' }] }],
      },
      'gemini-2.5-flash',
    );
    expect(withSystem).toBeGreaterThan(text + 3);
  });
});

describe('GeminiStreamTap', () => {
  it('passes chunks through untouched, reads text and the last usageMetadata', () => {
    const tap = new GeminiStreamTap();
    const first = encode(
      chunk('Hello', { promptTokenCount: 10, candidatesTokenCount: 1, totalTokenCount: 11 }),
    );
    expect(tap.push(first)).toBe(first);
    expect(tap.usageComplete()).toBe(true);
    const last = encode(
      chunk(' wörld', { promptTokenCount: 10, candidatesTokenCount: 2, thoughtsTokenCount: 5 }, 'STOP'),
    );
    tap.push(last.subarray(0, 20));
    tap.push(last.subarray(20));
    expect(tap.generatedText()).toBe('Hello wörld');
    expect(tap.generatedUtf8Bytes()).toBe(12);
    expect(tap.usage()).toEqual({
      inputTokens: 10,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 7,
      reasoningTokens: 5,
    });
  });

  it('ends at the cap as Google does: MAX_TOKENS for every candidate seen, with usageMetadata', () => {
    const tap = new GeminiStreamTap();
    tap.push(encode(chunk('a', { promptTokenCount: 3 }, undefined, 0)));
    tap.push(encode(chunk('b', { promptTokenCount: 3 }, undefined, 1)));
    const usage: Usage = {
      inputTokens: 3,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 8,
      reasoningTokens: 0,
    };
    const text = decode(tap.endAtCap(usage, false));
    expect(text.startsWith('data: ')).toBe(true);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    const json = JSON.parse(text.slice(6)) as {
      candidates: Array<{ finishReason: string; index: number }>;
      usageMetadata: Record<string, number>;
      responseId: string;
    };
    expect(json.candidates.map((c) => [c.index, c.finishReason])).toEqual([
      [0, 'MAX_TOKENS'],
      [1, 'MAX_TOKENS'],
    ]);
    expect(json.usageMetadata).toEqual({ promptTokenCount: 3, candidatesTokenCount: 8, totalTokenCount: 11 });
    expect(json.responseId).toBe('resp-1');
  });

  it('ends with an error in Google format', () => {
    const text = decode(
      new GeminiStreamTap().endWithError({
        message: 'Budget "b" is exhausted',
        type: 'resource_exhausted',
        code: '429',
      }),
    );
    expect(JSON.parse(text.slice(6))).toEqual({
      error: { code: 429, message: 'Budget "b" is exhausted', status: 'RESOURCE_EXHAUSTED' },
    });
  });
});

describe('GeminiAssembler', () => {
  it('builds the plain generateContent answer from a stream', () => {
    const assembler = geminiGenerateAdapter.createAssembler() as GeminiAssembler;
    const stream =
      geminiSseEvent({
        candidates: [{ content: { parts: [{ text: 'think ', thought: true }], role: 'model' }, index: 0 }],
        usageMetadata: { promptTokenCount: 4 },
        modelVersion: 'gemini-2.5-flash',
      }) +
      chunk('Hel', { promptTokenCount: 4, candidatesTokenCount: 1 }) +
      geminiSseEvent({
        candidates: [
          {
            content: {
              parts: [{ text: 'lo' }, { functionCall: { name: 'f', args: { x: 1 } } }],
              role: 'model',
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: {
          promptTokenCount: 4,
          candidatesTokenCount: 6,
          thoughtsTokenCount: 2,
          totalTokenCount: 12,
        },
      });
    const bytes = encode(stream);
    assembler.push(bytes.subarray(0, 33));
    assembler.push(bytes.subarray(33));
    expect(assembler.result()).toEqual({
      candidates: [
        {
          content: {
            parts: [
              { text: 'think ', thought: true },
              { text: 'Hello' },
              { functionCall: { name: 'f', args: { x: 1 } } },
            ],
            role: 'model',
          },
          index: 0,
          finishReason: 'STOP',
        },
      ],
      usageMetadata: {
        promptTokenCount: 4,
        candidatesTokenCount: 6,
        thoughtsTokenCount: 2,
        totalTokenCount: 12,
      },
      modelVersion: 'gemini-2.5-flash',
      responseId: 'resp-1',
    });
    expect(assembler.usage()?.outputTokens).toBe(8);
    expect(assembler.generatedText()).toBe('think Hello{"name":"f","args":{"x":1}}');
    const cut = assembler.resultAtCap({
      inputTokens: 4,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 3,
      reasoningTokens: 2,
    });
    expect((cut.candidates as Array<{ finishReason: string }>)[0]?.finishReason).toBe('MAX_TOKENS');
    expect(cut.usageMetadata).toEqual({
      promptTokenCount: 4,
      candidatesTokenCount: 1,
      thoughtsTokenCount: 2,
      totalTokenCount: 7,
    });
  });

  it('has no result until every candidate finished (or the prompt was blocked)', () => {
    const assembler = new GeminiAssembler();
    assembler.push(encode(chunk('a', { promptTokenCount: 2, candidatesTokenCount: 1 }, 'STOP', 0)));
    assembler.push(encode(chunk('b', { promptTokenCount: 2, candidatesTokenCount: 2 }, undefined, 1)));
    // The running usage is there, the answer is not: candidate 1 has not finished.
    expect(assembler.usage()?.outputTokens).toBe(2);
    expect(assembler.result()).toBeUndefined();
    assembler.push(encode(chunk('c', { promptTokenCount: 2, candidatesTokenCount: 3 }, 'MAX_TOKENS', 1)));
    const done = assembler.result() as { candidates: Array<{ finishReason: string }> };
    expect(done.candidates.map((c) => c.finishReason)).toEqual(['STOP', 'MAX_TOKENS']);
    const blocked = new GeminiAssembler();
    blocked.push(
      encode(
        geminiSseEvent({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3 } }),
      ),
    );
    expect(blocked.result()).toEqual({
      promptFeedback: { blockReason: 'SAFETY' },
      candidates: [],
      usageMetadata: { promptTokenCount: 3 },
    });
  });

  it('answers an empty candidate at the cap when nothing streamed', () => {
    const cut = new GeminiAssembler().resultAtCap({
      inputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    });
    expect(cut.candidates).toEqual([
      { content: { parts: [{ text: '' }], role: 'model' }, index: 0, finishReason: 'MAX_TOKENS' },
    ]);
  });
});
