import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messagesAdapter as messages } from './anthropic.js';
import { ANTHROPIC_TEXT, anthropicStream, encoder, runTap, splitAt } from './streams.test-helpers.js';

const FULL_USAGE = {
  inputTokens: 472,
  cachedInputTokens: 2000,
  cacheWriteTokens: 100,
  outputTokens: 89,
  reasoningTokens: 0,
};

describe('messages stream tap', () => {
  const bytes = encoder.encode(anthropicStream());

  it('forwards every chunk unchanged and reads usage and generated text', () => {
    const tap = messages.createStreamTap({ stripUsageChunk: false });
    for (const chunk of splitAt(bytes, [10, 333, 334, 900])) expect(tap.push(chunk)).toBe(chunk);
    expect(tap.flush()).toBeNull();
    expect(tap.usage()).toEqual(FULL_USAGE);
    expect(tap.usageComplete()).toBe(true);
    expect(tap.generatedText()).toBe(ANTHROPIC_TEXT);
  });

  it('gives the same bytes, usage and text for any split (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 30 }), (positions) => {
        const result = runTap(
          messages.createStreamTap({ stripUsageChunk: false }),
          splitAt(bytes, positions),
        );
        expect(Buffer.from(result.bytes).equals(Buffer.from(bytes))).toBe(true);
        expect(result.usage).toEqual(FULL_USAGE);
        expect(result.text).toBe(ANTHROPIC_TEXT);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the input side when the stream breaks after message_start, and says usage is incomplete', () => {
    const result = runTap(messages.createStreamTap({ stripUsageChunk: false }), [
      encoder.encode(anthropicStream({ upTo: 'message_start' })),
    ]);
    expect(result.usage).toEqual({ ...FULL_USAGE, outputTokens: 2 });
    expect(result.complete).toBe(false);
    expect(result.text).toBe('Let me thínk.Bonjour 🇫🇷, "ça va"?');
  });

  it('takes input and cache counts from message_delta when present (newer API versions)', () => {
    const stream =
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":12,"cache_creation_input_tokens":null,"cache_read_input_tokens":30,"output_tokens":55,"output_tokens_details":{"thinking_tokens":20}}}\n\n';
    const result = runTap(messages.createStreamTap({ stripUsageChunk: false }), [encoder.encode(stream)]);
    expect(result.usage).toEqual({
      inputTokens: 12,
      cachedInputTokens: 30,
      cacheWriteTokens: 0,
      outputTokens: 55,
      reasoningTokens: 20,
    });
  });

  it('finds event types from the data when the event field is missing', () => {
    const stream =
      'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n' +
      'data: {"type":"message_delta","usage":{"output_tokens":3}}\n\n';
    const result = runTap(messages.createStreamTap({ stripUsageChunk: false }), [encoder.encode(stream)]);
    expect(result.text).toBe('hi');
    expect(result.usage?.outputTokens).toBe(3);
  });

  it('survives garbage and error events', () => {
    const stream =
      'event: message_start\ndata: {broken\n\n' +
      'event: content_block_delta\ndata: nope "text":"\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n' +
      'event: message_delta\ndata: []\n\n';
    const input = encoder.encode(stream);
    const result = runTap(messages.createStreamTap({ stripUsageChunk: false }), [input]);
    expect(Buffer.from(result.bytes).equals(Buffer.from(input))).toBe(true);
    expect(result.usage).toBeUndefined();
    expect(result.complete).toBe(false);
  });
});

describe('messages adapter', () => {
  const body = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello' }] };

  it('accepts a body without max_tokens (the gateway sets it)', () => {
    expect(messages.validate(body)).toBeNull();
    expect(messages.validate({ ...body, max_tokens: 1024, stream: true })).toBeNull();
  });

  it.each([
    [{ messages: body.messages }, 'model'],
    [{ model: 'm' }, 'messages'],
    [{ model: 'm', messages: { role: 'user' } }, 'messages'],
    [{ model: 'm', messages: [{ role: 'user' }, { content: 'x' }] }, 'messages[1].role'],
    [{ ...body, max_tokens: 0 }, 'max_tokens'],
    [{ ...body, max_tokens: 10.5 }, 'max_tokens'],
    [{ ...body, stream: 1 }, 'stream'],
  ])('rejects %j naming %s', (input, param) => {
    const error = messages.validate(input as Record<string, unknown>);
    expect(error?.status).toBe(400);
    expect(error?.param).toBe(param);
    expect(error?.message).toContain(`'${param}'`);
  });

  it('reads and writes max_tokens', () => {
    expect(messages.requestedOutputCap({ max_tokens: 512 })).toBe(512);
    expect(messages.requestedOutputCap({})).toBeUndefined();
    const request: Record<string, unknown> = { ...body };
    messages.setOutputCap(request, 4096, 'max_completion_tokens');
    expect(request.max_tokens).toBe(4096);
    expect(request.max_completion_tokens).toBeUndefined();
  });

  it('never asks for a usage chunk', () => {
    const request: Record<string, unknown> = { ...body, stream: true };
    expect(messages.requestUsageInStream(request)).toBe(false);
    expect(request.stream_options).toBeUndefined();
  });

  it('reads usage from a JSON response', () => {
    expect(
      messages.usageFromJson({
        type: 'message',
        usage: {
          input_tokens: 472,
          cache_creation_input_tokens: 100,
          cache_read_input_tokens: 2000,
          output_tokens: 89,
        },
      }),
    ).toEqual(FULL_USAGE);
    expect(messages.usageFromJson({ usage: { output_tokens: 5 } })).toEqual({
      inputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 5,
      reasoningTokens: 0,
    });
    expect(messages.usageFromJson({ type: 'message' })).toBeUndefined();
  });
});
