import { describe, expect, it } from 'vitest';
import { countTokens } from '../tokens/encoding.js';
import { chatCompletionsAdapter, completionsAdapter, messagesAdapter, responsesAdapter } from './index.js';
import { streamBilling } from './stream-usage.js';
import type { StreamTap } from './types.js';

const encoder = new TextEncoder();
const data = (json: unknown) => `data: ${JSON.stringify(json)}\n\n`;
const named = (type: string, json: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...json })}\n\n`;

function run(tap: StreamTap, sse: string, chunkSize = 4096): void {
  const bytes = encoder.encode(sse);
  for (let at = 0; at < bytes.length; at += chunkSize) tap.push(bytes.subarray(at, at + chunkSize));
  tap.flush();
}

const usage = (completion: number) => ({
  prompt_tokens: 12,
  completion_tokens: completion,
  total_tokens: 12 + completion,
});
const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o' };
const delta = (content: string, extra: Record<string, unknown> = {}) =>
  data({ ...head, choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra });
/** About 154 KB of text in 800 chunks. */
const longText = Array.from({ length: 800 }, (_, i) =>
  `Chunk ${i} of a long answer the budget must see. `.repeat(4),
);

describe('chat streams: the last usage report counts', () => {
  it('a usage object in the first chunk followed by text is not final', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('', { usage: usage(1) }) + longText.map((t) => delta(t)).join(''));
    expect(tap.usage()?.outputTokens).toBe(1);
    expect(tap.usageComplete()).toBe(false);
    const text = longText.join('');
    expect(tap.generatedText().length).toBeGreaterThan(150_000);
    expect(tap.countedOutputTokens('gpt-4o')).toBe(countTokens(text, 'o200k_base'));
    expect(tap.countedOutputTokens('gpt-4o')).toBeGreaterThan(30_000);
  });

  it('a later report replaces the first and is final when no text follows it', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    const stream =
      delta('', { usage: usage(1) }) +
      longText
        .slice(0, 10)
        .map((t) => delta(t))
        .join('') +
      data({ ...head, choices: [], usage: usage(420) }) +
      'data: [DONE]\n\n';
    run(tap, stream, 97);
    expect(tap.usage()?.outputTokens).toBe(420);
    expect(tap.usageComplete()).toBe(true);
  });

  it('usage on every chunk (text and usage in one event) stays final', () => {
    const tap = completionsAdapter.createStreamTap({ stripUsageChunk: false });
    const chunk = (text: string, completion: number) =>
      data({
        id: 'cmpl-1',
        object: 'text_completion',
        choices: [{ index: 0, text }],
        usage: usage(completion),
      });
    run(tap, chunk('a', 1) + chunk(' b', 2) + chunk(' c', 3) + 'data: [DONE]\n\n');
    expect(tap.usage()?.outputTokens).toBe(3);
    expect(tap.usageComplete()).toBe(true);
  });

  it('counts relayed text once per length (the count is cached until more text arrives)', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('hello world'));
    const first = tap.countedOutputTokens('gpt-4o');
    expect(tap.countedOutputTokens('gpt-4o')).toBe(first);
    run(tap, delta(' and more words'));
    expect(tap.countedOutputTokens('gpt-4o')).toBe(countTokens('hello world and more words', 'o200k_base'));
    expect(tap.countedOutputTokens('gpt-3.5-turbo-instruct')).toBe(
      countTokens('hello world and more words', 'cl100k_base'),
    );
  });
});

describe('Anthropic streams', () => {
  const start = named('message_start', {
    message: { id: 'msg_1', usage: { input_tokens: 30, cache_read_input_tokens: 0, output_tokens: 1 } },
  });
  const text = (t: string) =>
    named('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } });

  it('message_start is provisional; message_delta after the text is final', () => {
    const tap = messagesAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, start + text('Hello there, '));
    expect(tap.usage()?.outputTokens).toBe(1);
    expect(tap.usageComplete()).toBe(false);
    run(tap, text('friend.') + named('message_delta', { delta: {}, usage: { output_tokens: 7 } }));
    expect(tap.usage()).toMatchObject({ inputTokens: 30, outputTokens: 7 });
    expect(tap.usageComplete()).toBe(true);
  });

  it('text after message_delta makes it not final again', () => {
    const tap = messagesAdapter.createStreamTap({ stripUsageChunk: false });
    run(
      tap,
      start + named('message_delta', { delta: {}, usage: { output_tokens: 2 } }) + text(longText.join('')),
    );
    expect(tap.usageComplete()).toBe(false);
    expect(tap.countedOutputTokens('claude-sonnet-4-5')).toBeGreaterThan(2);
  });
});

describe('Responses streams', () => {
  const response = (status: string, extra: Record<string, unknown> = {}) => ({
    id: 'resp_abc',
    object: 'response',
    status,
    instructions: 'be brief; "id": not this',
    ...extra,
  });

  it('keeps the response id from response.created and the final usage', () => {
    const tap = responsesAdapter.createStreamTap({ stripUsageChunk: false });
    run(
      tap,
      named('response.created', { sequence_number: 0, response: response('in_progress', { usage: null }) }),
    );
    expect(tap.responseId()).toBe('resp_abc');
    run(
      tap,
      named('response.output_text.delta', { delta: 'Hi!' }) +
        named('response.completed', {
          response: response('completed', {
            usage: { input_tokens: 9, output_tokens: 3, output_tokens_details: { reasoning_tokens: 1 } },
          }),
        }),
    );
    expect(tap.usage()).toMatchObject({ inputTokens: 9, outputTokens: 3, reasoningTokens: 1 });
    expect(tap.usageComplete()).toBe(true);
    expect(tap.responseId()).toBe('resp_abc');
  });

  it('other taps have no response id', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('x'));
    expect(tap.responseId()).toBeUndefined();
  });
});

describe('streamBilling: max(reported, counted)', () => {
  const opts = { model: 'gpt-4o', promptTokens: 50, bytesReceived: 1 };

  it('bills the counted text when the first-chunk report is all there is', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('', { usage: usage(1) }) + longText.map((t) => delta(t)).join(''));
    const billed = streamBilling(tap, opts);
    expect(billed.counted).toBe(true);
    expect(billed.usage?.inputTokens).toBe(12);
    expect(billed.usage?.outputTokens).toBe(countTokens(longText.join(''), 'o200k_base'));
  });

  it('bills the counted text when a final report is implausibly low', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, longText.map((t) => delta(t)).join('') + data({ ...head, choices: [], usage: usage(1) }));
    expect(tap.usageComplete()).toBe(true);
    const billed = streamBilling(tap, opts);
    expect(billed).toMatchObject({ counted: true });
    expect(billed.usage?.outputTokens).toBeGreaterThan(30_000);
  });

  it('takes a plausible final report as it is', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('Hello there') + data({ ...head, choices: [], usage: usage(3) }));
    expect(streamBilling(tap, opts)).toEqual({
      usage: {
        inputTokens: 12,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        outputTokens: 3,
        reasoningTokens: 0,
      },
      counted: false,
    });
  });

  it('counts a stream without any report from the prompt and the text; nothing for no byte', () => {
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    run(tap, delta('Hello there'));
    expect(streamBilling(tap, opts)).toEqual({
      usage: {
        inputTokens: 50,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        outputTokens: countTokens('Hello there', 'o200k_base'),
        reasoningTokens: 0,
      },
      counted: true,
    });
    const empty = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    expect(streamBilling(empty, { ...opts, bytesReceived: 0 })).toEqual({ usage: undefined, counted: false });
  });
});
