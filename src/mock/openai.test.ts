import OpenAI from 'openai';
import { get_encoding } from 'tiktoken';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';

const o200k = get_encoding('o200k_base');
const cl100k = get_encoding('cl100k_base');
afterAll(() => {
  o200k.free();
  cl100k.free();
});
const tok = (text: string) => o200k.encode_ordinary(text).length;

const mock = useMockProvider({ openaiApiKey: 'sk-mock' });
const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.current.url}/v1`, maxRetries: 0 });
beforeEach(() => mock.current.reset());

const question = [{ role: 'user' as const, content: 'How much budget is left this month?' }];
/** OpenAI's chat formula, written out independently of src/mock/prompt.ts. */
const questionPromptTokens = 3 + tok('user') + tok('How much budget is left this month?') + 3;

describe('chat completions', () => {
  it('answers a non-streaming request with exact usage', async () => {
    const res = await client().chat.completions.create({ model: 'gpt-4o', messages: question });
    const content = res.choices[0]?.message.content ?? '';
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.choices[0]?.message.role).toBe('assistant');
    expect(res.choices[0]?.message.refusal).toBeNull();
    expect(tok(content)).toBe(20);
    expect(res.usage).toEqual({
      prompt_tokens: questionPromptTokens,
      completion_tokens: 20,
      total_tokens: questionPromptTokens + 20,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    const [served] = mock.current.served;
    expect(served).toMatchObject({
      id: res.id,
      path: '/v1/chat/completions',
      model: 'gpt-4o',
      stream: false,
      completed: true,
      clientClosedAt: null,
      outputTokensSent: 20,
      usage: { input_tokens: questionPromptTokens, cached_tokens: 0, output_tokens: 20, reasoning_tokens: 0 },
    });
    expect(served?.headers.authorization).toBe('Bearer sk-mock');
    expect(served?.body).toMatchObject({ messages: question });
  });

  it('stops at the output cap with finish_reason length (max_completion_tokens wins over max_tokens)', async () => {
    const res = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: question,
      max_tokens: 50,
      max_completion_tokens: 7,
    });
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(tok(res.choices[0]?.message.content ?? '')).toBe(7);
    expect(res.usage?.completion_tokens).toBe(7);
  });

  it('streams without a usage chunk when include_usage is not set', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: question,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect('usage' in c).toBe(false);
      expect(c.choices).toHaveLength(1);
    }
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(tok(text)).toBe(20);
    expect(chunks).toHaveLength(1 + 20 + 1);
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const [served] = mock.current.served;
    expect(served).toMatchObject({ stream: true, completed: true, usage: null, outputTokensSent: 20 });
  });

  it('streams a final usage chunk, and usage:null on every other chunk, when include_usage is set', async () => {
    const stream = await client().chat.completions.create(
      {
        model: 'gpt-4o',
        messages: question,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 12,
      },
      { headers: { 'x-mock-chunks': '4' } },
    );
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    const rest = chunks.slice(0, -1);
    expect(last.choices).toEqual([]);
    for (const c of rest) expect(c.usage).toBeNull();
    expect(rest).toHaveLength(1 + 4 + 1);
    const text = rest.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(tok(text)).toBe(12);
    expect(rest.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(last.usage).toMatchObject({
      prompt_tokens: questionPromptTokens,
      completion_tokens: tok(text),
      total_tokens: questionPromptTokens + tok(text),
    });
    expect(mock.current.served[0]?.usage?.output_tokens).toBe(12);
  });

  it('is consumable with the SDK stream helper', async () => {
    const stream = client().chat.completions.stream({
      model: 'gpt-4o',
      messages: question,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(tok(final.choices[0]?.message.content ?? '')).toBe(20);
    expect(final.usage?.completion_tokens).toBe(20);
  });

  it('reports cached and reasoning tokens from the x-mock headers, reasoning within the cap', async () => {
    const res = await client().chat.completions.create(
      { model: 'o3-mini', messages: question, max_completion_tokens: 30 },
      {
        headers: {
          'x-mock-cached-tokens': '6',
          'x-mock-reasoning-tokens': '15',
          'x-mock-output-tokens': '40',
        },
      },
    );
    expect(res.usage?.prompt_tokens).toBe(questionPromptTokens);
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(6);
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(15);
    expect(tok(res.choices[0]?.message.content ?? '')).toBe(15);
    expect(res.usage?.completion_tokens).toBe(30);
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(mock.current.served[0]?.usage).toEqual({
      input_tokens: questionPromptTokens - 6,
      cached_tokens: 6,
      cache_write_tokens: 0,
      output_tokens: 30,
      reasoning_tokens: 15,
    });
  });

  it('generates n choices and bills all of them', async () => {
    const res = await client().chat.completions.create(
      { model: 'gpt-4o', messages: question, n: 3 },
      { headers: { 'x-mock-output-tokens': '5' } },
    );
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.usage?.completion_tokens).toBe(15);
  });

  it('counts system messages, names and content parts in the prompt', async () => {
    const res = await client().chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: 'Hi there' }] },
      ],
    });
    const expected =
      3 + tok('system') + tok('Be brief.') + 3 + tok('user') + tok('Hi there') + tok('ann') + 1 + 3;
    expect(res.usage?.prompt_tokens).toBe(expected);
  });
});

describe('legacy completions', () => {
  it('defaults to 16 output tokens like OpenAI and counts with cl100k_base', async () => {
    const res = await client().completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say this is a test',
    });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]?.finish_reason).toBe('length');
    expect(cl100k.encode_ordinary(res.choices[0]?.text ?? '').length).toBe(16);
    expect(res.usage).toEqual({
      prompt_tokens: cl100k.encode_ordinary('Say this is a test').length,
      completion_tokens: 16,
      total_tokens: cl100k.encode_ordinary('Say this is a test').length + 16,
    });
  });

  it('streams with the usage chunk only when asked', async () => {
    const withUsage = await client().completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say this is a test',
      max_tokens: 9,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of withUsage) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
    expect(cl100k.encode_ordinary(text).length).toBe(9);
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(9);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    const without = await client().completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say this is a test',
      max_tokens: 100,
      stream: true,
    });
    const plain = [];
    for await (const c of without) plain.push(c);
    expect(plain.some((c) => 'usage' in c)).toBe(false);
    expect(plain.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('embeddings', () => {
  it('answers the SDK default (base64) with the default 8 dimensions', async () => {
    const res = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha beta', 'gamma'],
    });
    expect(mock.current.served[0]?.body).toMatchObject({ encoding_format: 'base64' });
    expect(res.data).toHaveLength(2);
    for (const d of res.data) {
      expect(d.embedding).toHaveLength(8);
      const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
      expect(norm).toBeCloseTo(1, 5);
    }
    expect(res.data[0]?.embedding).not.toEqual(res.data[1]?.embedding);
    const expected = cl100k.encode_ordinary('alpha beta').length + cl100k.encode_ordinary('gamma').length;
    expect(res.usage).toEqual({ prompt_tokens: expected, total_tokens: expected });
  });

  it('honours dimensions and float encoding, and the base64 and float vectors agree', async () => {
    const float = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: 'same text',
      dimensions: 16,
      encoding_format: 'float',
    });
    const b64 = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: 'same text',
      dimensions: 16,
    });
    expect(float.data[0]?.embedding).toHaveLength(16);
    expect(Array.isArray(float.data[0]?.embedding)).toBe(true);
    const a = float.data[0]!.embedding;
    const b = b64.data[0]!.embedding;
    for (let i = 0; i < 16; i++) expect(b[i]).toBeCloseTo(a[i]!, 6);
  });

  it('counts token-array inputs by length', async () => {
    const res = await client().embeddings.create({
      model: 'text-embedding-3-small',
      input: [
        [1, 2, 3],
        [4, 5],
      ],
    });
    expect(res.data).toHaveLength(2);
    expect(res.usage.prompt_tokens).toBe(5);
  });
});

describe('responses', () => {
  it('answers a non-streaming request with exact usage', async () => {
    const res = await client().responses.create({
      model: 'gpt-4o',
      instructions: 'Be brief.',
      input: 'Tell me a story.',
    });
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(tok(res.output_text)).toBe(20);
    const expectedInput =
      3 + tok('system') + tok('Be brief.') + 3 + tok('user') + tok('Tell me a story.') + 3;
    expect(res.usage).toEqual({
      input_tokens: expectedInput,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 20,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: expectedInput + 20,
    });
  });

  it('streams typed events in order with rising sequence numbers, final response carrying usage', async () => {
    const stream = client().responses.stream({ model: 'gpt-4o', input: 'Tell me a story.' });
    const types: string[] = [];
    const seqs: number[] = [];
    let deltas = '';
    stream.on('event', (e) => {
      types.push(e.type);
      seqs.push(e.sequence_number);
      if (e.type === 'response.output_text.delta') deltas += e.delta;
    });
    const final = await stream.finalResponse();
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(4, 24).every((t) => t === 'response.output_text.delta')).toBe(true);
    expect(types.slice(24)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(final.output_text).toBe(deltas);
    expect(final.usage?.output_tokens).toBe(tok(deltas));
    expect(final.usage?.output_tokens).toBe(20);
    expect(mock.current.served[0]?.usage?.output_tokens).toBe(20);
  });

  it('ends incomplete with response.incomplete when max_output_tokens cuts the text', async () => {
    const stream = await client().responses.create({
      model: 'gpt-4o',
      input: 'Tell me a story.',
      max_output_tokens: 16,
      stream: true,
    });
    let last: { type: string; response?: unknown } | undefined;
    for await (const e of stream) last = e;
    expect(last?.type).toBe('response.incomplete');
    const response = last?.response as {
      status: string;
      incomplete_details: unknown;
      usage: { output_tokens: number };
    };
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.usage.output_tokens).toBe(16);
  });

  it('retrieves a stored response as it ended, plain or streamed; store: false and unknown ids are 404', async () => {
    const plain = await client().responses.create({ model: 'gpt-4o', input: 'Tell me a story.' });
    expect(await client().responses.retrieve(plain.id)).toEqual(plain);
    const streamed = await client()
      .responses.stream({ model: 'gpt-4o', input: 'Tell me a story.' })
      .finalResponse();
    const again = await client().responses.retrieve(streamed.id);
    expect(again.status).toBe('completed');
    expect(again.output_text).toBe(streamed.output_text);
    expect(again.usage).toEqual(streamed.usage);
    expect(mock.current.served.at(-1)).toMatchObject({
      path: `/v1/responses/${streamed.id}`,
      model: 'gpt-4o',
    });

    const unstored = await client().responses.create({ model: 'gpt-4o', input: 'x', store: false });
    for (const id of [unstored.id, 'resp_never']) {
      const error = await client()
        .responses.retrieve(id)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toEqual({
        message: `Response with id '${id}' not found.`,
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    }
  });
});

describe('models', () => {
  it('lists models in OpenAI shape', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o');
    expect(ids).toContain('gpt-4o-mini');
  });
});
