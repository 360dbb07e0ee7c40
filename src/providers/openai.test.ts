import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chatCompletionsAdapter as chat,
  completionsAdapter as completions,
  embeddingsAdapter as embeddings,
  responsesAdapter as responses,
} from './openai.js';
import {
  CHAT_TEXT,
  chatStream,
  completionsStream,
  decoder,
  encoder,
  responsesStream,
  runTap,
  splitAt,
} from './streams.test-helpers.js';

const CHAT_USAGE = {
  inputTokens: 176,
  cachedInputTokens: 1024,
  cacheWriteTokens: 0,
  outputTokens: 340,
  reasoningTokens: 128,
};

describe('chat stream tap', () => {
  const withUsage = encoder.encode(chatStream(true));
  const withoutUsage = encoder.encode(chatStream(false));

  it('forwards every chunk unchanged, as the same instance, when not stripping', () => {
    const tap = chat.createStreamTap({ stripUsageChunk: false });
    const chunks = splitAt(withUsage, [1, 50, 51, 400, 700]);
    for (const chunk of chunks) expect(tap.push(chunk)).toBe(chunk);
    expect(tap.flush()).toBeNull();
    expect(tap.usage()).toEqual(CHAT_USAGE);
    expect(tap.usageComplete()).toBe(true);
    expect(tap.generatedText()).toBe(CHAT_TEXT);
  });

  it('stripping yields exactly the stream sent without include_usage, and still reads the usage', () => {
    const result = runTap(chat.createStreamTap({ stripUsageChunk: true }), [withUsage]);
    expect(decoder.decode(result.bytes)).toBe(chatStream(false));
    expect(result.usage).toEqual(CHAT_USAGE);
    expect(result.complete).toBe(true);
    expect(result.text).toBe(CHAT_TEXT);
  });

  it('strips CRLF-framed streams too, whatever the split', () => {
    const input = encoder.encode(chatStream(true, '\r\n'));
    for (let at = 0; at <= input.length; at++) {
      const result = runTap(chat.createStreamTap({ stripUsageChunk: true }), splitAt(input, [at]));
      expect(decoder.decode(result.bytes)).toBe(chatStream(false, '\r\n'));
    }
  });

  it('gives the same bytes, usage and text for a split at every byte position', () => {
    for (const strip of [false, true]) {
      const expected = strip ? withoutUsage : withUsage;
      for (let at = 0; at <= withUsage.length; at++) {
        const result = runTap(chat.createStreamTap({ stripUsageChunk: strip }), splitAt(withUsage, [at]));
        expect(Buffer.from(result.bytes).equals(Buffer.from(expected))).toBe(true);
        expect(result.usage).toEqual(CHAT_USAGE);
        expect(result.text).toBe(CHAT_TEXT);
      }
    }
  });

  it('gives the same bytes, usage and text for any split into many chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: withUsage.length }), { maxLength: 40 }),
        (strip, positions) => {
          const result = runTap(
            chat.createStreamTap({ stripUsageChunk: strip }),
            splitAt(withUsage, positions),
          );
          expect(Buffer.from(result.bytes).equals(Buffer.from(strip ? withoutUsage : withUsage))).toBe(true);
          expect(result.usage).toEqual(CHAT_USAGE);
          expect(result.text).toBe(CHAT_TEXT);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns the same instance when stripping and a chunk needs no change', () => {
    const tap = chat.createStreamTap({ stripUsageChunk: true });
    const done = encoder.encode('data: [DONE]\n\n');
    expect(tap.push(done)).toBe(done);
  });

  it('holds back only the unfinished event when stripping', () => {
    const tap = chat.createStreamTap({ stripUsageChunk: true });
    const first = 'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n';
    const out = tap.push(encoder.encode(first + 'data: {"choices":[{"delta"'));
    expect(decoder.decode(out ?? new Uint8Array())).toBe('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
    const rest = tap.push(encoder.encode(':{"content":"b"}}],"usage":null}\n\n'));
    expect(decoder.decode(rest ?? new Uint8Array())).toBe(
      'data: {"choices":[{"delta":{"content":"b"}}]}\n\n',
    );
    expect(tap.generatedText()).toBe('ab');
  });

  it('removes a usage object riding on a chunk with choices, keeping the chunk', () => {
    const tap = chat.createStreamTap({ stripUsageChunk: true });
    const event =
      'data: {"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n';
    const out = tap.push(encoder.encode(event));
    expect(decoder.decode(out ?? new Uint8Array())).toBe('data: {"choices":[{"delta":{"content":"x"}}]}\n\n');
    expect(tap.usage()).toMatchObject({ inputTokens: 3, outputTokens: 1 });
  });

  it('forwards garbage unchanged and never throws', () => {
    const garbage = [
      'data: {not json "usage":{ oops\n\n',
      'data: {"choices":[],"usage":{"prompt_tokens":\n\n',
      'event: weird\n\n\n\n',
      '\u0000\u0001\xff binary\n\n',
      'data: {"choices":[{"delta":{"content":"unterminated\n\n',
    ].join('');
    for (const strip of [false, true]) {
      const tap = chat.createStreamTap({ stripUsageChunk: strip });
      const bytes = encoder.encode(garbage);
      const result = runTap(tap, [bytes.slice(0, 7), bytes.slice(7)]);
      expect(result.usage).toBeUndefined();
      expect(result.complete).toBe(false);
      if (!strip) expect(decoder.decode(result.bytes)).toBe(garbage);
      else expect(result.bytes.length).toBeGreaterThan(0);
    }
    const invalidUtf8 = new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0x28, 0xff, 0x0a, 0x0a]);
    const tap = chat.createStreamTap({ stripUsageChunk: true });
    expect(Buffer.from(runTap(tap, [invalidUtf8]).bytes)).toEqual(Buffer.from(invalidUtf8));
  });

  it('reads usage sent without a final blank line at the end of the stream', () => {
    const tap = chat.createStreamTap({ stripUsageChunk: false });
    tap.push(encoder.encode('data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}'));
    expect(tap.usage()).toBeUndefined();
    tap.flush();
    expect(tap.usage()).toMatchObject({ inputTokens: 4, outputTokens: 2 });
  });

  it('reports no usage, and the text so far, when the stream breaks before the usage chunk', () => {
    const cut = chatStream(true).indexOf('"choices":[]');
    const result = runTap(chat.createStreamTap({ stripUsageChunk: true }), [
      encoder.encode(chatStream(true).slice(0, cut)),
    ]);
    expect(result.usage).toBeUndefined();
    expect(result.complete).toBe(false);
    expect(result.text).toBe(CHAT_TEXT);
  });
});

describe('completions stream tap', () => {
  it('strips to the stream without include_usage and reads usage and text', () => {
    const result = runTap(completions.createStreamTap({ stripUsageChunk: true }), [
      encoder.encode(completionsStream(true)),
    ]);
    expect(decoder.decode(result.bytes)).toBe(completionsStream(false));
    expect(result.usage).toEqual({
      inputTokens: 5,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 3,
      reasoningTokens: 0,
    });
    expect(result.text).toBe('This is a tést');
  });
});

describe('responses stream tap', () => {
  const usage = {
    inputTokens: 952,
    cachedInputTokens: 2048,
    cacheWriteTokens: 0,
    outputTokens: 420,
    reasoningTokens: 300,
  };
  const bytes = encoder.encode(responsesStream());

  it('forwards bytes unchanged and reads usage from response.completed and text from deltas', () => {
    for (let at = 0; at <= bytes.length; at += 7) {
      const tap = responses.createStreamTap({ stripUsageChunk: false });
      const chunks = splitAt(bytes, [at]);
      for (const chunk of chunks) expect(tap.push(chunk)).toBe(chunk.length > 0 ? chunk : null);
      expect(tap.usage()).toEqual(usage);
      expect(tap.usageComplete()).toBe(true);
      expect(tap.generatedText()).toBe('Hi thére 🌍{"q":1}');
    }
  });

  it('accepts usage from response.incomplete and response.failed', () => {
    for (const final of ['response.incomplete', 'response.failed']) {
      const result = runTap(responses.createStreamTap({ stripUsageChunk: false }), [
        encoder.encode(responsesStream(final)),
      ]);
      expect(result.usage).toEqual(usage);
    }
  });

  it('has no usage until the final event', () => {
    const text = responsesStream();
    const result = runTap(responses.createStreamTap({ stripUsageChunk: false }), [
      encoder.encode(text.slice(0, text.indexOf('event: response.completed'))),
    ]);
    expect(result.usage).toBeUndefined();
    expect(result.text).toBe('Hi thére 🌍{"q":1}');
  });
});

describe('validate', () => {
  const messages = [{ role: 'user', content: 'hi' }];

  it('accepts well-formed bodies', () => {
    expect(chat.validate({ model: 'gpt-4o', messages, max_tokens: 10, stream: true })).toBeNull();
    expect(chat.validate({ model: 'gpt-4o', messages, max_tokens: null, stream_options: null })).toBeNull();
    expect(completions.validate({ model: 'gpt-3.5-turbo-instruct', prompt: ['a', 'b'] })).toBeNull();
    expect(embeddings.validate({ model: 'text-embedding-3-small', input: 'hello' })).toBeNull();
    expect(responses.validate({ model: 'gpt-4o', instructions: 'be brief' })).toBeNull();
    expect(responses.validate({ model: 'gpt-4o', input: [{ role: 'user', content: 'x' }] })).toBeNull();
  });

  const cases: Array<[string, ReturnType<typeof chat.validate>, string]> = [
    ['missing model', chat.validate({ messages }), 'model'],
    ['empty model', chat.validate({ model: '', messages }), 'model'],
    ['numeric model', embeddings.validate({ model: 3, input: 'x' }), 'model'],
    ['missing messages', chat.validate({ model: 'm' }), 'messages'],
    ['empty messages', chat.validate({ model: 'm', messages: [] }), 'messages'],
    ['message not an object', chat.validate({ model: 'm', messages: [...messages, 'hi'] }), 'messages[1]'],
    [
      'role missing',
      chat.validate({ model: 'm', messages: [...messages, messages[0], { content: 'x' }] }),
      'messages[2].role',
    ],
    ['role not a string', chat.validate({ model: 'm', messages: [{ role: 1 }] }), 'messages[0].role'],
    ['zero max_tokens', chat.validate({ model: 'm', messages, max_tokens: 0 }), 'max_tokens'],
    [
      'fractional max_completion_tokens',
      chat.validate({ model: 'm', messages, max_completion_tokens: 1.5 }),
      'max_completion_tokens',
    ],
    ['string stream', chat.validate({ model: 'm', messages, stream: 'yes' }), 'stream'],
    ['array stream_options', chat.validate({ model: 'm', messages, stream_options: [] }), 'stream_options'],
    ['missing prompt', completions.validate({ model: 'm' }), 'prompt'],
    [
      'negative completions cap',
      completions.validate({ model: 'm', prompt: 'x', max_tokens: -1 }),
      'max_tokens',
    ],
    ['missing input', embeddings.validate({ model: 'm' }), 'input'],
    ['object input', embeddings.validate({ model: 'm', input: {} }), 'input'],
    ['responses without input', responses.validate({ model: 'm' }), 'input'],
    [
      'responses cap',
      responses.validate({ model: 'm', input: 'x', max_output_tokens: '5' }),
      'max_output_tokens',
    ],
  ];
  it.each(cases)('rejects %s with a 400 naming the field', (_name, error, param) => {
    expect(error).not.toBeNull();
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('invalid_request');
    expect(error?.param).toBe(param);
    expect(error?.message).toContain(`'${param}'`);
  });
});

describe('output caps', () => {
  it('aligns chat bodies with both cap fields at different values on the larger, and only those', () => {
    const both = { max_completion_tokens: 50, max_tokens: 80 };
    expect(chat.alignCapFields?.(both)).toBe(true);
    expect(both).toEqual({ max_completion_tokens: 80, max_tokens: 80 });
    expect(chat.alignCapFields?.(both)).toBe(false);
    const one = { max_tokens: 80, max_completion_tokens: null };
    expect(chat.alignCapFields?.(one)).toBe(false);
    expect(one).toEqual({ max_tokens: 80, max_completion_tokens: null });
    expect(responses.alignCapFields).toBeUndefined();
  });

  it('reads the cap each API uses', () => {
    // Both sent: the larger, as an upstream may read either (issue 12).
    expect(chat.requestedOutputCap({ max_completion_tokens: 50, max_tokens: 80 })).toBe(80);
    expect(chat.requestedOutputCap({ max_tokens: 80 })).toBe(80);
    expect(chat.requestedOutputCap({})).toBeUndefined();
    expect(completions.requestedOutputCap({ max_tokens: 7 })).toBe(7);
    // OpenAI's legacy default applies when max_tokens is absent or null.
    expect(completions.requestedOutputCap({})).toBe(16);
    expect(completions.requestedOutputCap({ max_tokens: null })).toBe(16);
    expect(responses.requestedOutputCap({ max_output_tokens: 9, max_tokens: 3 })).toBe(9);
    expect(embeddings.requestedOutputCap({ max_tokens: 3 })).toBeUndefined();
  });

  it('writes the chosen chat field and removes the other', () => {
    const body: Record<string, unknown> = { max_tokens: 100 };
    chat.setOutputCap(body, 60, 'max_completion_tokens');
    expect(body).toEqual({ max_completion_tokens: 60 });
    chat.setOutputCap(body, 40, 'max_tokens');
    expect(body).toEqual({ max_tokens: 40 });
  });

  it('writes max_tokens for completions and max_output_tokens for responses', () => {
    const legacy: Record<string, unknown> = {};
    completions.setOutputCap(legacy, 16, 'max_completion_tokens');
    expect(legacy).toEqual({ max_tokens: 16 });
    const body: Record<string, unknown> = { max_output_tokens: 900 };
    responses.setOutputCap(body, 300, 'max_tokens');
    expect(body).toEqual({ max_output_tokens: 300 });
  });
});

describe('requestUsageInStream', () => {
  it('adds include_usage for chat and completions streams, keeping other options', () => {
    const body: Record<string, unknown> = { stream: true, stream_options: { include_obfuscation: false } };
    expect(chat.requestUsageInStream(body)).toBe(true);
    expect(body.stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    const legacy: Record<string, unknown> = { stream: true };
    expect(completions.requestUsageInStream(legacy)).toBe(true);
    expect(legacy.stream_options).toEqual({ include_usage: true });
  });

  it('reports false when the client already asked, or for non-streams and APIs that always report', () => {
    const asked = { stream: true, stream_options: { include_usage: true } };
    expect(chat.requestUsageInStream(asked)).toBe(false);
    const plain: Record<string, unknown> = { stream: false };
    expect(chat.requestUsageInStream(plain)).toBe(false);
    expect(plain.stream_options).toBeUndefined();
    expect(responses.requestUsageInStream({ stream: true })).toBe(false);
  });
});

describe('usageFromJson', () => {
  it('reads chat usage, excluding cached tokens from input', () => {
    expect(
      chat.usageFromJson({
        object: 'chat.completion',
        usage: {
          prompt_tokens: 1200,
          completion_tokens: 340,
          prompt_tokens_details: { cached_tokens: 1024 },
          completion_tokens_details: { reasoning_tokens: 128 },
        },
      }),
    ).toEqual(CHAT_USAGE);
  });

  it('reads embeddings and responses usage; missing fields are 0; no usage is undefined', () => {
    expect(embeddings.usageFromJson({ usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({
      inputTokens: 8,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    });
    expect(
      responses.usageFromJson({
        usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 40 }, output_tokens: 20 },
      }),
    ).toEqual({
      inputTokens: 60,
      cachedInputTokens: 40,
      cacheWriteTokens: 0,
      outputTokens: 20,
      reasoningTokens: 0,
    });
    expect(chat.usageFromJson({ choices: [] })).toBeUndefined();
    expect(chat.usageFromJson(null)).toBeUndefined();
    expect(chat.usageFromJson('garbage')).toBeUndefined();
  });
});

describe('isStream', () => {
  it('is true only for stream: true', () => {
    expect(chat.isStream({ stream: true })).toBe(true);
    expect(chat.isStream({ stream: 'true' })).toBe(false);
    expect(embeddings.isStream({ stream: true })).toBe(false);
  });
});
