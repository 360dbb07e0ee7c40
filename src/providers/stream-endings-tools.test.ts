/**
 * endAtCap in the middle of tool calls: the SDK helpers still finish (chat tool_calls with cut
 * arguments and finish_reason length, Anthropic tool_use with stop_reason max_tokens, a Responses
 * function_call item closed "incomplete"), and an ending is given once.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMockProvider } from '../../test/helpers/mock.js';
import type { Usage } from '../usage.js';
import { messagesAdapter } from './anthropic.js';
import { chatCompletionsAdapter, responsesAdapter } from './openai.js';
import { type FixedServer, sseEvents, startFixedServer } from './sdk-server.test-helpers.js';
import { concatBytes, decoder, encoder } from './streams.test-helpers.js';
import type { EndpointAdapter, RequestBody } from './types.js';

const mock = useMockProvider();
let server: FixedServer;
beforeAll(async () => {
  server = await startFixedServer();
});
afterAll(async () => {
  await server.close();
});

const USAGE: Usage = {
  inputTokens: 12,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 9,
  reasoningTokens: 0,
};

async function upstream(adapter: EndpointAdapter, body: RequestBody): Promise<string[]> {
  const res = await fetch(`${mock.current.url}${adapter.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-tool-calls': '2', 'x-mock-output-tokens': '12' },
    body: JSON.stringify(body),
  });
  return sseEvents(await res.text());
}

/** The bytes a client gets: the first `count` events through a whole-events tap, then endAtCap. */
function cutAfter(adapter: EndpointAdapter, events: string[], count: number, includeUsage = false) {
  const tap = adapter.createStreamTap({ stripUsageChunk: false, wholeEvents: true });
  const relayed = tap.push(encoder.encode(events.slice(0, count).join(''))) ?? new Uint8Array(0);
  const ending = tap.endAtCap(USAGE, includeUsage);
  expect(tap.endAtCap(USAGE, includeUsage)).toHaveLength(0);
  expect(tap.endWithError({ message: 'late', type: 'server_error' })).toHaveLength(0);
  return { tap, bytes: concatBytes([relayed, ending]) };
}

describe('endAtCap during tool calls', () => {
  it('chat, n=2, cut inside the second tool call: finalChatCompletion() has both calls and finish_reason length', async () => {
    const events = await upstream(chatCompletionsAdapter, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      n: 2,
      stream: true,
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    });
    const secondCall = events.findIndex((e) => e.includes('"index":1,"id":"call_'));
    const { bytes } = cutAfter(chatCompletionsAdapter, events, secondCall + 2 * 3);
    server.answer({ sse: bytes });
    const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const final = await openai.chat.completions
      .stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .finalChatCompletion();
    expect(final.choices.map((c) => c.finish_reason)).toEqual(['length', 'length']);
    const calls = final.choices[0]?.message.tool_calls ?? [];
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse((calls[0] as { function: { arguments: string } }).function.arguments)).toHaveProperty(
      'query',
    );
    expect(
      (calls[1] as { function: { arguments: string } }).function.arguments.startsWith('{"query":"Hello'),
    ).toBe(true);
  });

  it('anthropic, cut inside a tool_use block: finalMessage() has stop_reason max_tokens', async () => {
    const events = await upstream(messagesAdapter, {
      model: 'claude-sonnet-4-5',
      max_tokens: 500,
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    const toolStart = events.findIndex((e) => e.includes('"type":"tool_use"'));
    const { bytes } = cutAfter(messagesAdapter, events, toolStart + 4);
    expect(decoder.decode(bytes)).toContain(
      `event: content_block_stop\ndata: {"type":"content_block_stop","index":1}`,
    );
    server.answer({ sse: bytes });
    const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 0 });
    const message = await anthropic.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 500, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
    expect(message.usage.output_tokens).toBe(9);
  });

  it('anthropic after message_stop: nothing to add', () => {
    const tap = messagesAdapter.createStreamTap({ stripUsageChunk: false, wholeEvents: true });
    tap.push(encoder.encode('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
    expect(tap.endAtCap(USAGE, false)).toHaveLength(0);
  });

  it('responses, cut inside a function_call item: its arguments done, the item incomplete, response.incomplete', async () => {
    let seq = 0;
    const ev = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sequence_number: seq++ })}\n\n`;
    const response = {
      id: 'resp_1',
      object: 'response',
      created_at: 1,
      status: 'in_progress',
      model: 'gpt-4.1',
      output: [],
      usage: null,
    };
    const call = {
      id: 'fc_1',
      type: 'function_call',
      status: 'in_progress',
      call_id: 'call_1',
      name: 'get_weather',
      arguments: '',
    };
    const stream =
      ev('response.created', { response }) +
      ev('response.in_progress', { response }) +
      ev('response.output_item.added', { output_index: 0, item: call }) +
      ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 0, delta: '{"city":' }) +
      ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 0, delta: '"Zür' });
    const { tap, bytes } = cutAfter(responsesAdapter, sseEvents(stream), 99);
    expect(tap.generatedText()).toBe('{"city":"Zür');
    const types = sseEvents(decoder.decode(bytes))
      .slice(5)
      .map((e) => e.split('\n')[0]);
    expect(types).toEqual([
      'event: response.function_call_arguments.done',
      'event: response.output_item.done',
      'event: response.incomplete',
    ]);
    server.answer({ sse: bytes });
    const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const runner = openai.responses.stream({ model: 'gpt-4.1', input: 'x' });
    for await (const _ of runner);
    const final = await runner.finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.output).toMatchObject([{ ...call, status: 'incomplete', arguments: '{"city":"Zür' }]);
    expect(final.usage?.output_tokens).toBe(9);
  });
});
