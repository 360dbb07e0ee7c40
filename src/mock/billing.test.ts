/**
 * The mock bills as OpenAI and Anthropic bill: every one of `n` chat choices, `best_of` legacy
 * completions for every prompt of a batch, thinking within its budget, and (x-mock-first-chunk-usage)
 * an early usage report to reproduce "usage trusted too early".
 */
import OpenAI from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';
import { chatCompletionsAdapter } from '../providers/index.js';
import { streamBilling } from '../providers/stream-usage.js';

const mock = useMockProvider({ openaiApiKey: 'sk-mock', anthropicApiKey: 'sk-ant-mock' });
const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.current.url}/v1`, maxRetries: 0 });
beforeEach(() => mock.current.reset());

const messages = [{ role: 'user' as const, content: 'How much budget is left?' }];
const tokens = (n: number) => ({ headers: { 'x-mock-output-tokens': String(n) } });

describe('chat: n choices', () => {
  it('answers n choices and bills all of them, reasoning per choice', async () => {
    const res = await client().chat.completions.create(
      { model: 'o3-mini', messages, n: 4 },
      { headers: { 'x-mock-output-tokens': '5', 'x-mock-reasoning-tokens': '3' } },
    );
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.usage?.completion_tokens).toBe(4 * (5 + 3));
    expect(res.usage?.completion_tokens_details?.reasoning_tokens).toBe(4 * 3);
    expect(mock.current.served[0]).toMatchObject({
      outputTokensSent: 20,
      usage: { output_tokens: 32, reasoning_tokens: 12 },
    });
  });

  it('streams every choice with its index and bills the sum in the usage chunk', async () => {
    const stream = await client().chat.completions.create(
      { model: 'gpt-4o', messages, n: 3, stream: true, stream_options: { include_usage: true } },
      tokens(6),
    );
    const text = ['', '', ''];
    let usage: { completion_tokens: number } | null | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) text[choice.index] += choice.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text[0]).not.toBe('');
    expect(new Set(text).size).toBe(1);
    expect(usage?.completion_tokens).toBe(18);
    expect(mock.current.served[0]?.outputTokensSent).toBe(18);
  });

  it('refuses n outside 1..128 as OpenAI does', async () => {
    for (const n of [0, 129, 1.5]) {
      const error = await client()
        .chat.completions.create({ model: 'gpt-4o', messages, n })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    }
    expect(mock.current.served.every((s) => s.usage === null)).toBe(true);
  });
});

describe('legacy completions: best_of and prompt batches', () => {
  it('bills best_of completions for every prompt and returns n per prompt', async () => {
    const res = await client().completions.create(
      { model: 'gpt-3.5-turbo-instruct', prompt: ['One', 'Two', 'Three'], n: 2, best_of: 4, max_tokens: 5 },
      tokens(20),
    );
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(res.usage?.completion_tokens).toBe(3 * 4 * 5);
    expect(mock.current.served[0]).toMatchObject({ outputTokensSent: 6 * 5, usage: { output_tokens: 60 } });
  });

  it('defaults best_of to n; token ids are one prompt, token-id arrays one each', async () => {
    const ids = await client().completions.create(
      { model: 'gpt-3.5-turbo-instruct', prompt: [1, 2, 3], n: 2, max_tokens: 4 },
      tokens(4),
    );
    expect(ids.choices).toHaveLength(2);
    expect(ids.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 8 });
    const lists = await client().completions.create(
      { model: 'gpt-3.5-turbo-instruct', prompt: [[1, 2], [3]], max_tokens: 4 },
      tokens(4),
    );
    expect(lists.choices).toHaveLength(2);
    expect(lists.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 8 });
  });

  it('streams n choices per prompt and bills them in the usage chunk', async () => {
    const stream = await client().completions.create(
      {
        model: 'gpt-3.5-turbo-instruct',
        prompt: ['a', 'b'],
        n: 2,
        max_tokens: 3,
        stream: true,
        stream_options: { include_usage: true },
      },
      tokens(3),
    );
    const indexes = new Set<number>();
    let completion = 0;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) indexes.add(choice.index);
      if (chunk.usage) completion = chunk.usage.completion_tokens;
    }
    expect([...indexes].sort()).toEqual([0, 1, 2, 3]);
    expect(completion).toBe(12);
  });

  it.each([
    [{ n: 3, best_of: 2 }, 'best_of'],
    [{ best_of: 21 }, 'best_of'],
    [{ best_of: 2, stream: true }, 'best_of'],
    [{ n: 200 }, 'n'],
  ])('refuses %j naming %s', async (extra, param) => {
    const error = await client()
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', ...extra } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
  });
});

describe('x-mock-first-chunk-usage', () => {
  it('puts a usage object in the first chunk as well as the last', async () => {
    const stream = await client().chat.completions.create(
      { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-mock-output-tokens': '9', 'x-mock-first-chunk-usage': '1' } },
    );
    const usages: number[] = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage.completion_tokens);
    expect(usages).toEqual([1, 9]);
    expect(mock.current.served[0]?.usage?.output_tokens).toBe(9);
  });

  it('with a stream cut after it, the tap does not trust the early report', async () => {
    const res = await fetch(`${mock.current.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk-mock',
        'content-type': 'application/json',
        'x-mock-output-tokens': '400',
        'x-mock-first-chunk-usage': '1',
        'x-mock-fail': 'broken-stream:300',
      },
      body: JSON.stringify({
        model: 'gpt-4o',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const tap = chatCompletionsAdapter.createStreamTap({ stripUsageChunk: false });
    let bytes = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        tap.push(chunk);
      }
    } catch {
      // The mock breaks the connection on purpose.
    }
    tap.flush();
    expect(tap.usage()?.outputTokens).toBe(1);
    expect(tap.usageComplete()).toBe(false);
    const billed = streamBilling(tap, { model: 'gpt-4o', promptTokens: 20, bytesReceived: bytes });
    expect(billed.counted).toBe(true);
    expect(billed.usage?.outputTokens).toBeGreaterThanOrEqual(290);
  });
});

describe('Anthropic thinking', () => {
  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${mock.current.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': 'sk-ant-mock',
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', messages, ...body }),
    });

  it('bills thinking within its budget', async () => {
    const res = await post(
      { max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 } },
      { 'x-mock-output-tokens': '10', 'x-mock-reasoning-tokens': '5000' },
    );
    const json = (await res.json()) as { usage: { output_tokens: number; output_tokens_details: unknown } };
    expect(json.usage.output_tokens).toBe(2010);
    expect(json.usage.output_tokens_details).toEqual({ thinking_tokens: 2000 });
  });

  it('refuses a budget below 1024 or not below max_tokens, as Anthropic does', async () => {
    for (const [max_tokens, budget_tokens] of [
      [4000, 1000],
      [2000, 2000],
    ]) {
      const res = await post({ max_tokens, thinking: { type: 'enabled', budget_tokens } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { type: string }).type).toBe('error');
    }
  });
});
