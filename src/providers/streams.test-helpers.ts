/**
 * SSE fixtures built from the providers' documented stream formats. OpenAI chat fixtures come in two
 * variants, with and without `stream_options.include_usage`, so tests can check that stripping the
 * gateway's usage chunk yields exactly what the provider sends when the option is off.
 */
import type { StreamTap } from './types.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

const base = {
  id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
  object: 'chat.completion.chunk',
  created: 1741570283,
  model: 'gpt-4o-2024-08-06',
  service_tier: 'default',
  system_fingerprint: 'fp_eb9dce56a8',
};

/** Deltas of a chat answer: text with multi-byte characters and escapes, then a tool call. */
const chatDeltas: Array<{ delta: Record<string, unknown>; finish_reason: string | null }> = [
  { delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null },
  { delta: { content: 'Héllo' }, finish_reason: null },
  { delta: { content: ' 👋 世界, "quoted"\nnew line' }, finish_reason: null },
  {
    delta: {
      tool_calls: [
        { index: 0, id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ],
    },
    finish_reason: null,
  },
  { delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null },
  { delta: { tool_calls: [{ index: 0, function: { arguments: '"Zürich"}' } }] }, finish_reason: null },
  { delta: {}, finish_reason: 'tool_calls' },
];

export const CHAT_TEXT = 'Héllo 👋 世界, "quoted"\nnew line{"city":"Zürich"}';

export const CHAT_USAGE_JSON = {
  prompt_tokens: 1200,
  completion_tokens: 340,
  total_tokens: 1540,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 128,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

/** The OpenAI chat stream, as sent with include_usage (`"usage":null` on every chunk + usage chunk) or without. */
export function chatStream(includeUsage: boolean, lineEnd = '\n'): string {
  const events: string[] = [];
  for (const { delta, finish_reason } of chatDeltas) {
    const chunk: Record<string, unknown> = {
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    };
    if (includeUsage) chunk.usage = null;
    chunk.obfuscation = 'aB3x';
    events.push(`data: ${JSON.stringify(chunk)}${lineEnd}${lineEnd}`);
  }
  if (includeUsage) {
    const usageChunk = { ...base, choices: [], usage: CHAT_USAGE_JSON, obfuscation: 'Qz' };
    events.push(`data: ${JSON.stringify(usageChunk)}${lineEnd}${lineEnd}`);
  }
  events.push(`data: [DONE]${lineEnd}${lineEnd}`);
  return events.join('');
}

/** A legacy completions stream with include_usage. */
export function completionsStream(includeUsage: boolean): string {
  const common = {
    id: 'cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe',
    object: 'text_completion',
    created: 1690759702,
    model: 'gpt-3.5-turbo-instruct',
    system_fingerprint: null,
  };
  const events = ['This', ' is', ' a tést'].map((text, index) => {
    const chunk: Record<string, unknown> = {
      ...common,
      choices: [{ text, index: 0, logprobs: null, finish_reason: index === 2 ? 'length' : null }],
    };
    if (includeUsage) chunk.usage = null;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  });
  if (includeUsage) {
    const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };
    events.push(`data: ${JSON.stringify({ ...common, choices: [], usage })}\n\n`);
  }
  events.push('data: [DONE]\n\n');
  return events.join('');
}

function named(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** A Responses API stream: text deltas, a function call, and response.completed with usage. */
export function responsesStream(final = 'response.completed'): string {
  const response = {
    id: 'resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654',
    object: 'response',
    created_at: 1741290958,
    status: 'in_progress',
    model: 'gpt-4.1-2025-04-14',
    output: [] as unknown[],
    usage: null as unknown,
  };
  const usage = {
    input_tokens: 3000,
    input_tokens_details: { cached_tokens: 2048 },
    output_tokens: 420,
    output_tokens_details: { reasoning_tokens: 300 },
    total_tokens: 3420,
  };
  const item = { item_id: 'msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654', output_index: 0 };
  return [
    named('response.created', { sequence_number: 0, response }),
    named('response.in_progress', { sequence_number: 1, response }),
    named('response.output_text.delta', {
      ...item,
      content_index: 0,
      delta: 'Hi',
      logprobs: [],
      sequence_number: 4,
    }),
    named('response.output_text.delta', {
      ...item,
      content_index: 0,
      delta: ' thére 🌍',
      logprobs: [],
      sequence_number: 5,
    }),
    named('response.output_text.done', {
      ...item,
      content_index: 0,
      text: 'Hi thére 🌍',
      sequence_number: 6,
    }),
    named('response.function_call_arguments.delta', {
      item_id: 'fc_1',
      output_index: 1,
      delta: '{"q":1}',
      sequence_number: 7,
    }),
    named(final, {
      sequence_number: 9,
      response: {
        ...response,
        status: 'completed',
        output: [{ type: 'message', content: [{ type: 'output_text', text: 'Hi thére 🌍' }] }],
        usage,
      },
    }),
  ].join('');
}

/** An Anthropic Messages stream (text, thinking and tool-use deltas). */
export function anthropicStream(options: { upTo?: 'message_start' } = {}): string {
  const events = [
    named('message_start', {
      message: {
        id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-sonnet-4-5-20250929',
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 472,
          cache_creation_input_tokens: 100,
          cache_read_input_tokens: 2000,
          output_tokens: 2,
        },
      },
    }),
    named('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
    named('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me thínk.' } }),
    named('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }),
    named('content_block_stop', { index: 0 }),
    'event: ping\ndata: {"type": "ping"}\n\n',
    named('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    named('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Bonjour 🇫🇷' } }),
    named('content_block_delta', { index: 1, delta: { type: 'text_delta', text: ', "ça va"?' } }),
    named('content_block_stop', { index: 1 }),
    named('content_block_start', {
      index: 2,
      content_block: { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: {} },
    }),
    named('content_block_delta', {
      index: 2,
      delta: { type: 'input_json_delta', partial_json: '{"location":' },
    }),
    named('content_block_delta', {
      index: 2,
      delta: { type: 'input_json_delta', partial_json: ' "Paris"}' },
    }),
    named('content_block_stop', { index: 2 }),
    named('message_delta', {
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 89 },
    }),
    named('message_stop', {}),
  ];
  if (options.upTo === 'message_start') return events.slice(0, 9).join('');
  return events.join('');
}

export const ANTHROPIC_TEXT = 'Let me thínk.Bonjour 🇫🇷, "ça va"?{"location": "Paris"}';

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Splits bytes at the given (sorted, in-range) positions. */
export function splitAt(bytes: Uint8Array, positions: number[]): Uint8Array[] {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of sorted) {
    chunks.push(bytes.slice(start, position));
    start = position;
  }
  chunks.push(bytes.slice(start));
  return chunks;
}

/** Feeds chunks through a tap; answers the forwarded bytes, usage, completeness and text. */
export function runTap(tap: StreamTap, chunks: Uint8Array[]) {
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    const forwarded = tap.push(chunk);
    if (forwarded) out.push(forwarded);
  }
  const rest = tap.flush();
  if (rest) out.push(rest);
  return {
    bytes: concatBytes(out),
    usage: tap.usage(),
    complete: tap.usageComplete(),
    text: tap.generatedText(),
  };
}
