/**
 * endAtCap / endWithError as the official SDKs see them: a real stream from the mock provider is
 * relayed through the tap up to a point, the tap's ending is appended, and a tiny local server
 * serves those bytes to the SDK's streaming helper.
 */
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';
import type { Usage } from '../usage.js';
import { messagesAdapter } from './anthropic.js';
import { chatCompletionsAdapter, completionsAdapter, responsesAdapter } from './openai.js';
import { type FixedServer, sseEvents, startFixedServer } from './sdk-server.test-helpers.js';
import { concatBytes, decoder, encoder } from './streams.test-helpers.js';
import { utf8Length } from './tap.js';
import type { EndpointAdapter, RequestBody, StreamTap } from './types.js';

const mock = useMockProvider();
let server: FixedServer;
beforeAll(async () => {
  server = await startFixedServer();
});
afterAll(async () => {
  await server.close();
});

const openai = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 0 });

const USAGE: Usage = {
  inputTokens: 30,
  cachedInputTokens: 10,
  cacheWriteTokens: 0,
  outputTokens: 7,
  reasoningTokens: 0,
};

async function upstream(adapter: EndpointAdapter, body: RequestBody, tokens = 50): Promise<string> {
  const res = await fetch(`${mock.current.url}${adapter.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-output-tokens': String(tokens) },
    body: JSON.stringify(body),
  });
  return res.text();
}

/**
 * Relays the first `events` events through a whole-events tap, split mid-event (so the tap holds
 * back an unfinished one), and answers the bytes the client got plus the tap.
 */
function relayPrefix(adapter: EndpointAdapter, stream: string, events: number, strip = false) {
  const tap = adapter.createStreamTap({ stripUsageChunk: strip, wholeEvents: true });
  const list = sseEvents(stream);
  const prefix = list.slice(0, events).join('');
  const half = list[events] ?? '';
  const bytes = encoder.encode(prefix + half.slice(0, Math.floor(half.length / 2)));
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 97) {
    const forwarded = tap.push(bytes.subarray(at, at + 97));
    if (forwarded) out.push(forwarded);
  }
  return { tap, relayed: concatBytes(out) };
}

function withEnding(relayed: Uint8Array, ending: Uint8Array): Uint8Array {
  return concatBytes([relayed, ending]);
}

const chatBody = (n: number, includeUsage: boolean): RequestBody => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Tell me a long story.' }],
  stream: true,
  n,
  ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
});

describe('endAtCap: the SDKs see a stream cut at the output cap', () => {
  it.each([
    { n: 1, includeUsage: false },
    { n: 1, includeUsage: true },
    { n: 3, includeUsage: true },
    { n: 3, includeUsage: false },
  ])(
    'chat n=$n include_usage=$includeUsage: finalChatCompletion() has finish_reason length',
    async ({ n, includeUsage }) => {
      const stream = await upstream(chatCompletionsAdapter, chatBody(n, includeUsage));
      // Every choice's role chunk and 5 rounds of content (the choice after them half-relayed).
      const { tap, relayed } = relayPrefix(chatCompletionsAdapter, stream, n * 6);
      const ending = tap.endAtCap(USAGE, includeUsage);
      server.answer({ sse: withEnding(relayed, ending) });
      const final = await openai()
        .chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
        .finalChatCompletion();
      expect(final.choices.map((c) => c.index)).toEqual([...Array(n).keys()]);
      for (const choice of final.choices) {
        expect(choice.finish_reason).toBe('length');
        expect(choice.message.content).toBe(final.choices[0]?.message.content);
      }
      // The tap's text interleaves the choices; its length is theirs.
      expect(final.choices.map((c) => c.message.content).join('').length).toBe(tap.generatedText().length);
      expect(final.choices[0]?.message.content).toBe('Hello the quick brown fox');
      if (includeUsage) {
        expect(final.usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 });
        expect(final.usage?.prompt_tokens_details?.cached_tokens).toBe(10);
      } else {
        expect(final.usage ?? undefined).toBeUndefined();
      }
      const text = decoder.decode(ending);
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      // Same id / created / model as the stream's chunks.
      const first = JSON.parse(sseEvents(stream)[0]!.slice(6)) as Record<string, unknown>;
      expect(final).toMatchObject({ id: first.id, created: first.created, model: first.model });
    },
  );

  it('chat with the gateway-added usage stripped: the ending has no usage chunk unless the client asked', async () => {
    const stream = await upstream(chatCompletionsAdapter, chatBody(1, true));
    const { tap, relayed } = relayPrefix(chatCompletionsAdapter, stream, 6, true);
    const all = decoder.decode(withEnding(relayed, tap.endAtCap(USAGE, false)));
    expect(all).not.toContain('"usage"');
    server.answer({ sse: all });
    const final = await openai()
      .chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('length');
  });

  it('completions: the last chunk per prompt has finish_reason length, then [DONE]', async () => {
    const body = { model: 'gpt-3.5-turbo-instruct', prompt: ['a', 'b'], max_tokens: 40, stream: true };
    const stream = await upstream(completionsAdapter, body);
    const { tap, relayed } = relayPrefix(completionsAdapter, stream, 8);
    server.answer({ sse: withEnding(relayed, tap.endAtCap(USAGE, true)) });
    const chunks = [];
    for await (const chunk of await openai().completions.create({ ...body, stream: true }))
      chunks.push(chunk);
    const finishes = chunks.flatMap((c) => c.choices.filter((x) => x.finish_reason !== null));
    expect(finishes.map((c) => [c.index, c.finish_reason, c.text])).toEqual([
      [0, 'length', ''],
      [1, 'length', ''],
    ]);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 });
  });

  it('anthropic: finalMessage() has stop_reason max_tokens and the ending usage', async () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'x' }],
    };
    const stream = await upstream(messagesAdapter, { ...body, stream: true });
    const { tap, relayed } = relayPrefix(messagesAdapter, stream, 8);
    const ending = tap.endAtCap(USAGE, false);
    server.answer({ sse: withEnding(relayed, ending) });
    const message = await anthropic().messages.stream(body).finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.stop_sequence).toBeNull();
    expect(message.usage.output_tokens).toBe(7);
    expect(message.content).toMatchObject([{ type: 'text', text: tap.generatedText() }]);
    const types = sseEvents(decoder.decode(ending)).map((e) => e.split('\n')[0]);
    expect(types).toEqual(['event: content_block_stop', 'event: message_delta', 'event: message_stop']);
  });

  it('responses: iterating ends at response.incomplete and finalResponse() is the incomplete response', async () => {
    const body = { model: 'gpt-4.1', input: 'Tell me a long story.' };
    const stream = await upstream(responsesAdapter, { ...body, stream: true });
    const { tap, relayed } = relayPrefix(responsesAdapter, stream, 9);
    server.answer({ sse: withEnding(relayed, tap.endAtCap(USAGE, false)) });
    const events: string[] = [];
    const runner = openai().responses.stream(body);
    for await (const event of runner) events.push(event.type);
    const final = await runner.finalResponse();
    expect(events.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(final.output_text).toBe(tap.generatedText());
    expect(final.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    expect(final.usage).toMatchObject({ input_tokens: 40, output_tokens: 7, total_tokens: 47 });
    // sequence_number continues the stream's.
    const seqs = sseEvents(decoder.decode(withEnding(relayed, tap.endAtCap(USAGE, false)))).map(
      (e) => (JSON.parse(e.split('data: ')[1]!) as { sequence_number: number }).sequence_number,
    );
    expect(seqs).toEqual([...seqs.keys()]);
  });
});

describe('endWithError: the SDKs raise', () => {
  const error = { message: 'upstream stream broke', type: 'server_error', code: 'stream_broken' };

  async function prefixOf(
    adapter: EndpointAdapter,
    body: RequestBody,
  ): Promise<{ tap: StreamTap; relayed: Uint8Array }> {
    return relayPrefix(adapter, await upstream(adapter, body), 6);
  }

  it('openai chat: APIError with the message', async () => {
    const { tap, relayed } = await prefixOf(chatCompletionsAdapter, chatBody(1, false));
    server.answer({ sse: withEnding(relayed, tap.endWithError(error)) });
    const run = openai()
      .chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .finalChatCompletion();
    await expect(run).rejects.toThrow(/upstream stream broke/);
    await expect(run).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  it('openai completions: APIError while iterating', async () => {
    const body = { model: 'gpt-3.5-turbo-instruct', prompt: 'a', max_tokens: 40, stream: true as const };
    const { tap, relayed } = await prefixOf(completionsAdapter, body);
    server.answer({ sse: withEnding(relayed, tap.endWithError(error)) });
    const iterate = async () => {
      for await (const _ of await openai().completions.create(body));
    };
    await expect(iterate()).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  it('anthropic: APIError of the given type', async () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'x' }],
    };
    const { tap, relayed } = await prefixOf(messagesAdapter, { ...body, stream: true });
    server.answer({
      sse: withEnding(relayed, tap.endWithError({ message: 'Overloaded', type: 'overloaded_error' })),
    });
    const run = anthropic().messages.stream(body).finalMessage();
    await expect(run).rejects.toBeInstanceOf(Anthropic.APIError);
    await expect(run).rejects.toThrow(/Overloaded/);
  });

  it('responses: APIError while iterating (error nested as the API sends it), then response.failed', async () => {
    const body = { model: 'gpt-4.1', input: 'x' };
    const { tap, relayed } = await prefixOf(responsesAdapter, { ...body, stream: true });
    const ending = decoder.decode(tap.endWithError(error));
    expect(sseEvents(ending).map((e) => e.split('\n')[0])).toEqual([
      'event: error',
      'event: response.failed',
    ]);
    server.answer({ sse: withEnding(relayed, encoder.encode(ending)) });
    const iterate = async () => {
      for await (const _ of openai().responses.stream(body));
    };
    await expect(iterate()).rejects.toBeInstanceOf(OpenAI.APIError);
  });
});

describe('generatedUtf8Bytes', () => {
  it('utf8Length agrees with Buffer.byteLength on any string (surrogate pairs, lone surrogates)', () => {
    for (const unit of ['binary', 'grapheme'] as const) {
      fc.assert(
        fc.property(fc.string({ unit }), (text) => utf8Length(text) === Buffer.byteLength(text, 'utf8')),
      );
    }
    expect(utf8Length('\ud83d')).toBe(3);
    expect(utf8Length('é👋世')).toBe(2 + 4 + 3);
  });

  it.each([
    ['chat', chatCompletionsAdapter, chatBody(2, true)],
    ['responses', responsesAdapter, { model: 'gpt-4.1', input: 'x', stream: true }],
    [
      'messages',
      messagesAdapter,
      { model: 'claude-sonnet-4-5', max_tokens: 500, messages: [], stream: true },
    ],
  ] as const)(
    '%s: equals the UTF-8 length of generatedText() after every chunk',
    async (_, adapter, body) => {
      const stream = encoder.encode(await upstream(adapter, body as RequestBody, 30));
      const tap = adapter.createStreamTap({ stripUsageChunk: false });
      for (let at = 0; at < stream.length; at += 61) {
        tap.push(stream.subarray(at, at + 61));
        expect(tap.generatedUtf8Bytes()).toBe(Buffer.byteLength(tap.generatedText()));
      }
      expect(tap.generatedUtf8Bytes()).toBeGreaterThan(30);
    },
  );
});
