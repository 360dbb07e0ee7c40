import Anthropic from '@anthropic-ai/sdk';
import { get_encoding } from 'tiktoken';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';

const o200k = get_encoding('o200k_base');
afterAll(() => o200k.free());
const tok = (text: string) => o200k.encode_ordinary(text).length;

const mock = useMockProvider({ anthropicApiKey: 'sk-ant-mock' });
const client = () => new Anthropic({ apiKey: 'sk-ant-mock', baseURL: mock.current.url, maxRetries: 0 });
beforeEach(() => mock.current.reset());

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 1024,
  system: 'Answer in one line.',
  messages: [{ role: 'user' as const, content: 'What does the gateway do?' }],
};
/** Same formula as OpenAI chat, computed here independently. */
const promptTokens =
  3 + tok('system') + tok('Answer in one line.') + 3 + tok('user') + tok('What does the gateway do?') + 3;

function textOf(message: Anthropic.Message): string {
  return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

describe('messages', () => {
  it('answers a non-streaming request with exact usage', async () => {
    const msg = await client().messages.create(params);
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    expect(tok(textOf(msg))).toBe(20);
    expect(msg.usage).toMatchObject({
      input_tokens: promptTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 20,
    });
    expect(mock.current.served[0]).toMatchObject({
      id: msg.id,
      path: '/v1/messages',
      completed: true,
      usage: { input_tokens: promptTokens, output_tokens: 20 },
    });
    // Current Anthropic SDKs send the API key as a bearer token, not x-api-key.
    expect(mock.current.served[0]?.headers.authorization).toBe('Bearer sk-ant-mock');
  });

  it('stops with max_tokens when the cap cuts the text', async () => {
    const msg = await client().messages.create({ ...params, max_tokens: 6 });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(tok(textOf(msg))).toBe(6);
    expect(msg.usage.output_tokens).toBe(6);
  });

  it('streams the full event sequence; finalMessage() has the cumulative usage', async () => {
    const stream = client().messages.stream(params, {
      headers: {
        'x-mock-cached-tokens': '5',
        'x-mock-cache-write-tokens': '2',
        'x-mock-output-tokens': '33',
      },
    });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const msg = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.filter((t) => t === 'content_block_delta')).toHaveLength(33);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(tok(textOf(msg))).toBe(33);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({
      input_tokens: promptTokens - 7,
      cache_read_input_tokens: 5,
      cache_creation_input_tokens: 2,
      output_tokens: 33,
    });
    expect(mock.current.served[0]?.usage).toEqual({
      input_tokens: promptTokens - 7,
      cached_tokens: 5,
      cache_write_tokens: 2,
      output_tokens: 33,
      reasoning_tokens: 0,
    });
  });

  it('reports output_tokens 1 in message_start and the total in message_delta', async () => {
    const stream = await client().messages.create({ ...params, max_tokens: 4, stream: true });
    const starts: number[] = [];
    const deltas: number[] = [];
    let stop: string | null = null;
    for await (const e of stream) {
      if (e.type === 'message_start') starts.push(e.message.usage.output_tokens);
      if (e.type === 'message_delta') {
        deltas.push(e.usage.output_tokens);
        stop = e.delta.stop_reason;
      }
    }
    expect(starts).toEqual([1]);
    expect(deltas).toEqual([4]);
    expect(stop).toBe('max_tokens');
  });

  it('requires max_tokens like Anthropic', async () => {
    const { max_tokens: _, ...noMax } = params;
    const err = await client()
      .messages.create(noMax as typeof params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
    });
  });

  it('counts tokens', async () => {
    const res = await client().messages.countTokens({
      model: params.model,
      system: params.system,
      messages: params.messages,
    });
    expect(res.input_tokens).toBe(promptTokens);
  });
});
