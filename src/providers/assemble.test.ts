/**
 * Plain-from-stream: for the same request (and x-mock-seed, so ids and `created` agree), the mock's
 * plain answer and the assembly of its streamed answer are deepEqual, whole and cut at the cap;
 * and the official SDKs parse the assembled bodies.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';
import { messagesAdapter } from './anthropic.js';
import { chatCompletionsAdapter, completionsAdapter, embeddingsAdapter, responsesAdapter } from './openai.js';
import { type FixedServer, sseEvents, startFixedServer } from './sdk-server.test-helpers.js';
import { streamBilling } from './stream-usage.js';
import { anthropicStream, chatStream, encoder } from './streams.test-helpers.js';
import type { EndpointAdapter, RequestBody, StreamAssembler } from './types.js';

const mock = useMockProvider();
let server: FixedServer;
beforeAll(async () => {
  server = await startFixedServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => mock.current.reset());

type Headers = Record<string, string>;

async function call(adapter: EndpointAdapter, body: RequestBody, headers: Headers): Promise<Response> {
  return fetch(`${mock.current.url}${adapter.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-seed': 'S1', ...headers },
    body: JSON.stringify(body),
  });
}

/** Feeds bytes to the assembler in uneven pieces (splitting events and multi-byte characters). */
function feed(assembler: StreamAssembler, text: string): StreamAssembler {
  const bytes = encoder.encode(text);
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = 1 + ((k * 37) % 113);
    assembler.push(bytes.subarray(at, at + size));
    at += size;
  }
  return assembler;
}

const chat = (extra: RequestBody = {}): RequestBody => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'How much budget is left?' }],
  ...extra,
});
const completion = (extra: RequestBody = {}): RequestBody => ({
  model: 'gpt-3.5-turbo-instruct',
  prompt: ['Say this', 'and that'],
  max_tokens: 60,
  ...extra,
});
const response = (extra: RequestBody = {}): RequestBody => ({ model: 'gpt-4.1', input: 'Hello?', ...extra });
const message = (extra: RequestBody = {}): RequestBody => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 400,
  messages: [{ role: 'user', content: 'Hi' }],
  ...extra,
});

const CASES: Array<[string, EndpointAdapter, RequestBody, Headers]> = [
  ['chat', chatCompletionsAdapter, chat(), {}],
  [
    'chat n=3 with cached and reasoning tokens',
    chatCompletionsAdapter,
    chat({ n: 3 }),
    {
      'x-mock-cached-tokens': '8',
      'x-mock-reasoning-tokens': '5',
    },
  ],
  [
    'chat n=2 with 2 tool calls',
    chatCompletionsAdapter,
    chat({
      n: 2,
      tools: [
        { type: 'function', function: { name: 'get_weather' } },
        { type: 'function', function: { name: 'get_time' } },
      ],
    }),
    { 'x-mock-tool-calls': '2' },
  ],
  ['completions, 2 prompts x n=2', completionsAdapter, completion({ n: 2 }), {}],
  [
    'responses',
    responsesAdapter,
    response({ instructions: 'Be brief.' }),
    { 'x-mock-reasoning-tokens': '4' },
  ],
  ['messages', messagesAdapter, message(), { 'x-mock-cache-write-tokens': '3', 'x-mock-cached-tokens': '2' }],
  [
    'messages with thinking',
    messagesAdapter,
    message({ thinking: { type: 'enabled', budget_tokens: 1024 }, max_tokens: 2000 }),
    {
      'x-mock-reasoning-tokens': '12',
    },
  ],
];

describe('the assembled stream equals the plain answer', () => {
  it.each(CASES)('%s', async (_, adapter, body, headers) => {
    const plain = (await (await call(adapter, body, headers)).json()) as {
      content?: Array<{ type: string }>;
    };
    if (body.thinking !== undefined) expect(plain.content?.map((b) => b.type)).toEqual(['thinking', 'text']);
    if (headers['x-mock-tool-calls'] && adapter.shape === 'messages')
      expect(plain.content?.map((b) => b.type)).toEqual(['text', 'tool_use', 'tool_use']);
    expect(adapter.canStreamUpstream(body)).toBe(true);
    const streamed = adapter.asUpstreamStream(body);
    const text = await (await call(adapter, streamed, headers)).text();
    const assembler = feed(adapter.createAssembler(), text);
    expect(assembler.result()).toEqual(plain);
    expect(assembler.usage()).toEqual(adapter.usageFromJson(plain));
    // The settle reads an assembler as it reads a tap.
    const billed = streamBilling(assembler, {
      model: String(body.model),
      promptTokens: 0,
      bytesReceived: text.length,
    });
    expect(billed).toEqual({ usage: adapter.usageFromJson(plain), counted: false });
    expect(assembler.generatedUtf8Bytes()).toBe(Buffer.byteLength(assembler.generatedText()));
    const [first, second] = mock.current.served;
    expect(second?.usage).toEqual(first?.usage);
  });

  /** Where the provider's cap-time closing starts in each stream: the events from there are dropped. */
  const CLOSING: Record<string, RegExp> = {
    chat: /"finish_reason":"/,
    completions: /"finish_reason":"/,
    responses: /^event: response\.output_text\.done/,
    messages: /^event: content_block_stop/,
  };

  it.each(CASES)(
    '%s, cut at the cap: resultAtCap() equals the plain answer cut by max tokens',
    async (_, adapter, body, headers) => {
      // A cap below the 20 tokens the mock generates (thinking stays within it).
      const capField = {
        chat: 'max_tokens',
        completions: 'max_tokens',
        responses: 'max_output_tokens',
        messages: 'max_tokens',
      }[adapter.shape as 'chat'];
      const capped = { ...body, [capField]: adapter.shape === 'messages' && body.thinking ? 1030 : 9 };
      const capHeaders =
        adapter.shape === 'messages' && body.thinking
          ? { ...headers, 'x-mock-output-tokens': '2000' }
          : headers;
      const plain = await (await call(adapter, capped, capHeaders)).json();
      const text = await (await call(adapter, adapter.asUpstreamStream(capped), capHeaders)).text();
      const events = sseEvents(text);
      // Anthropic: the text block's stop, the last (a thinking block closes before it).
      const isClosing = (event: string) => CLOSING[adapter.shape]?.test(event) === true;
      const closing =
        adapter.shape === 'messages' ? events.findLastIndex(isClosing) : events.findIndex(isClosing);
      expect(closing).toBeGreaterThan(0);
      const assembler = feed(adapter.createAssembler(), events.slice(0, closing).join(''));
      expect(assembler.result()).toBeUndefined();
      const usage = adapter.usageFromJson(plain);
      if (usage === undefined) throw new Error('no usage');
      expect(assembler.resultAtCap(usage)).toEqual(plain);
    },
  );
});

describe('failure(): a stream that ended with an error event', () => {
  it.each([
    [
      chatCompletionsAdapter,
      chat(),
      { error: { message: 'broke', type: 'server_error', param: null, code: 'x' } },
    ],
    [
      completionsAdapter,
      completion(),
      { error: { message: 'broke', type: 'server_error', param: null, code: 'x' } },
    ],
    [
      responsesAdapter,
      response(),
      { error: { message: 'broke', type: 'server_error', param: null, code: 'x' } },
    ],
    [messagesAdapter, message(), { type: 'error', error: { type: 'server_error', message: 'broke' } }],
  ] as const)('%#: the provider plain error body, and no result', async (adapter, body, expected) => {
    const text = await (await call(adapter, adapter.asUpstreamStream(body), {})).text();
    const events = sseEvents(text);
    const tap = adapter.createStreamTap({ stripUsageChunk: false, wholeEvents: true });
    const relayed = tap.push(encoder.encode(events.slice(0, 6).join(''))) ?? new Uint8Array(0);
    const ending = tap.endWithError({ message: 'broke', type: 'server_error', code: 'x' });
    const assembler = adapter.createAssembler();
    assembler.push(relayed);
    assembler.push(ending);
    expect(assembler.failure()).toEqual(expected);
    if (adapter !== responsesAdapter) expect(assembler.result()).toBeUndefined();
  });

  it('no failure for a stream that finished', async () => {
    const text = await (
      await call(chatCompletionsAdapter, chatCompletionsAdapter.asUpstreamStream(chat()), {})
    ).text();
    expect(feed(chatCompletionsAdapter.createAssembler(), text).failure()).toBeUndefined();
  });
});

describe('canStreamUpstream / asUpstreamStream', () => {
  it('refuses what the provider cannot stream: embeddings, completions with best_of > 1', () => {
    expect(embeddingsAdapter.canStreamUpstream({ model: 'text-embedding-3-small', input: 'x' })).toBe(false);
    expect(completionsAdapter.canStreamUpstream(completion({ best_of: 3 }))).toBe(false);
    expect(completionsAdapter.canStreamUpstream(completion({ best_of: 1 }))).toBe(true);
  });

  it('adds stream (and include_usage for chat / completions), changes nothing else, leaves the input alone', () => {
    const body = chat({ max_tokens: 5, stream_options: { foo: 1 } });
    const copy = structuredClone(body);
    expect(chatCompletionsAdapter.asUpstreamStream(body)).toEqual({
      ...copy,
      stream: true,
      stream_options: { foo: 1, include_usage: true },
    });
    expect(body).toEqual(copy);
    expect(messagesAdapter.asUpstreamStream(message())).toEqual({ ...message(), stream: true });
    expect(responsesAdapter.asUpstreamStream(response())).toEqual({ ...response(), stream: true });
  });
});

describe('tool calls and thinking, from the providers documented streams', () => {
  it('chat: tool_calls assembled from their deltas, content kept, usage the stream reported', () => {
    const result = feed(chatCompletionsAdapter.createAssembler(), chatStream(true)).result();
    expect(result).toMatchObject({
      id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      object: 'chat.completion',
      created: 1741570283,
      model: 'gpt-4o-2024-08-06',
      service_tier: 'default',
      system_fingerprint: 'fp_eb9dce56a8',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          logprobs: null,
          message: {
            role: 'assistant',
            content: 'Héllo 👋 世界, "quoted"\nnew line',
            refusal: null,
            annotations: [],
            tool_calls: [
              {
                id: 'call_abc',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Zürich"}' },
              },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 1200, completion_tokens: 340 },
    });
  });

  it('messages: thinking (+signature), text and tool_use (input parsed) blocks', () => {
    const result = feed(messagesAdapter.createAssembler(), anthropicStream()).result();
    expect(result).toEqual({
      id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'thinking', thinking: 'Let me thínk.', signature: 'EqQBCgIYAhIM' },
        { type: 'text', text: 'Bonjour 🇫🇷, "ça va"?' },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { location: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 472,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 2000,
        output_tokens: 89,
      },
    });
  });
});

describe('the official SDKs parse the assembled bodies', () => {
  it('openai chat, completions and responses; anthropic messages', async () => {
    const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 0 });
    const assembled = async (adapter: EndpointAdapter, body: RequestBody) =>
      feed(
        adapter.createAssembler(),
        await (await call(adapter, adapter.asUpstreamStream(body), {})).text(),
      ).result();

    server.answer({ json: await assembled(chatCompletionsAdapter, chat({ n: 2 })) });
    const c = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(c.choices.map((choice) => [choice.index, choice.finish_reason])).toEqual([
      [0, 'stop'],
      [1, 'stop'],
    ]);
    expect(c.usage?.completion_tokens).toBe(40);

    server.answer({ json: await assembled(completionsAdapter, completion()) });
    const t = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' });
    expect(t.choices).toHaveLength(2);

    server.answer({ json: await assembled(responsesAdapter, response()) });
    const r = await openai.responses.create({ model: 'gpt-4.1', input: 'x' });
    expect(r.status).toBe('completed');
    expect(r.output_text.split(' ')).toHaveLength(20);

    server.answer({ json: await assembled(messagesAdapter, message()) });
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 9,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(m.stop_reason).toBe('end_turn');
    expect(m.content[0]?.type).toBe('text');
  });
});
