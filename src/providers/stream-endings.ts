/**
 * How OpenAI chat / completions and Anthropic streams end when the output cap cuts them or when
 * they fail, and the little each tap tracks (cheaply, mostly by string scans) to render that:
 *
 * - chat / completions: the chunk head (id, object, created, model, system_fingerprint,
 *   service_tier) from the first chunk, and which choice indexes are open (seen, no finish_reason).
 *   The provider at its cap sends, per open choice, a chunk with `finish_reason: "length"` (chat
 *   `delta: {}`, completions `text: ""`), then the usage chunk when asked, then `[DONE]`.
 * - Anthropic: the open content block (content_block_start without its stop). At max_tokens it
 *   sends content_block_stop, message_delta (stop_reason max_tokens, cumulative usage), message_stop.
 *
 * Error endings are what the SDKs raise on: openai-node throws on any event whose data has an
 * `error` member; the Anthropic SDK throws on `event: error`.
 */
import type { Usage } from '../usage.js';
import { isObject } from './common.js';
import { tryParseJson } from './sse.js';
import type { StreamError } from './types.js';

const HEAD_FIELDS = ['id', 'object', 'created', 'model', 'system_fingerprint', 'service_tier'] as const;

/** The usage object OpenAI chat reports, from the gateway's Usage. */
export function chatUsageJson(usage: Usage): Record<string, unknown> {
  const prompt = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.outputTokens,
    total_tokens: prompt + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** The usage object OpenAI legacy completions report. */
export function completionsUsageJson(usage: Usage): Record<string, unknown> {
  const prompt = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.outputTokens,
    total_tokens: prompt + usage.outputTokens,
  };
}

/** The usage object of an Anthropic message (message_delta and the final message). */
export function anthropicUsageJson(usage: Usage): Record<string, unknown> {
  const json: Record<string, unknown> = {
    input_tokens: usage.inputTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
  };
  if (usage.reasoningTokens > 0) json.output_tokens_details = { thinking_tokens: usage.reasoningTokens };
  return json;
}

const FINISH_KEY = '"finish_reason":';
const INDEX_KEY = '"index":';

/**
 * The choice index of OpenAI's usual text chunk, by indexOf: one choice (one finish_reason key),
 * finish_reason null, one `"index":` key. Undefined for anything else (then the chunk is parsed).
 * Keys cannot occur inside JSON strings (their quotes would be escaped), so a match is a key.
 */
function plainChunkIndex(data: string): number | undefined {
  const finish = data.indexOf(FINISH_KEY);
  if (finish < 0 || data.indexOf(FINISH_KEY, finish + FINISH_KEY.length) >= 0) return undefined;
  let at = finish + FINISH_KEY.length;
  while (data.charCodeAt(at) === 0x20) at++;
  if (!data.startsWith('null', at)) return undefined;
  const key = data.indexOf(INDEX_KEY);
  if (key < 0 || data.indexOf(INDEX_KEY, key + INDEX_KEY.length) >= 0) return undefined;
  at = key + INDEX_KEY.length;
  while (data.charCodeAt(at) === 0x20) at++;
  let index = 0;
  let digits = 0;
  for (let code = data.charCodeAt(at); code >= 0x30 && code <= 0x39; code = data.charCodeAt(++at)) {
    index = index * 10 + (code - 0x30);
    digits++;
  }
  return digits > 0 ? index : undefined;
}

/** What a chat / completions tap tracks to end the stream like the provider. */
export class ChoiceTracker {
  private head: Record<string, unknown> | undefined;
  /** Choice indexes seen and not finished, in order of appearance. */
  private readonly open = new Set<number>();
  private readonly finished = new Set<number>();

  constructor(private readonly kind: 'chat' | 'completions') {}

  /** Reads one chunk's data (not [DONE]). */
  read(data: string): void {
    // One choice per chunk with finish_reason null and one `"index":` (OpenAI's usual text chunk):
    // its index by a scan. Anything else (tool calls, a finish, several choices, the first chunk) is parsed.
    const plain = this.head === undefined ? undefined : plainChunkIndex(data);
    if (plain !== undefined) {
      this.see(plain, null);
      return;
    }
    const chunk = tryParseJson(data);
    if (!isObject(chunk)) return;
    if (this.head === undefined && typeof chunk.id === 'string') {
      const head: Record<string, unknown> = {};
      for (const field of HEAD_FIELDS) if (field in chunk) head[field] = chunk[field];
      this.head = head;
    }
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (!isObject(choice) || typeof choice.index !== 'number') continue;
      this.see(choice.index, typeof choice.finish_reason === 'string' ? choice.finish_reason : null);
    }
  }

  private see(index: number, finish: string | null): void {
    if (this.finished.has(index)) return;
    if (finish === null) this.open.add(index);
    else {
      this.open.delete(index);
      this.finished.add(index);
    }
  }

  private chunk(body: Record<string, unknown>): string {
    const head = this.head ?? {
      id: this.kind === 'chat' ? 'chatcmpl-gateway' : 'cmpl-gateway',
      object: this.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: '',
    };
    return `data: ${JSON.stringify({ ...head, ...body })}\n\n`;
  }

  capEnding(usage: Usage, includeUsage: boolean): string {
    // Nothing seen yet: the one choice the stream would have had.
    const open = this.open.size === 0 && this.finished.size === 0 ? [0] : [...this.open];
    let out = '';
    for (const index of open) {
      const choice =
        this.kind === 'chat'
          ? { index, delta: {}, logprobs: null, finish_reason: 'length' }
          : { text: '', index, logprobs: null, finish_reason: 'length' };
      out += this.chunk(includeUsage ? { choices: [choice], usage: null } : { choices: [choice] });
    }
    if (includeUsage) {
      const json = this.kind === 'chat' ? chatUsageJson(usage) : completionsUsageJson(usage);
      out += this.chunk({ choices: [], usage: json });
    }
    return `${out}data: [DONE]\n\n`;
  }
}

/** OpenAI's mid-stream error: a data event with an `error` member (the SDK throws APIError on it). */
export function openAiErrorEnding(error: StreamError): string {
  const body = { error: { message: error.message, type: error.type, param: null, code: error.code ?? null } };
  return `data: ${JSON.stringify(body)}\n\n`;
}

function named(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

const BLOCK_INDEX = /"index": *(\d+)/;

/** What an Anthropic tap tracks to end the stream like the provider. */
export class MessageTracker {
  private openBlock: number | undefined;
  private stopped = false;

  read(type: string | undefined, data: string): void {
    if (type === 'content_block_start') {
      const match = BLOCK_INDEX.exec(data);
      if (match) this.openBlock = Number(match[1]);
    } else if (type === 'content_block_stop') {
      this.openBlock = undefined;
    } else if (type === 'message_stop') {
      this.stopped = true;
    }
  }

  capEnding(usage: Usage): string {
    if (this.stopped) return '';
    let out = this.openBlock === undefined ? '' : named('content_block_stop', { index: this.openBlock });
    out += named('message_delta', {
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
      usage: anthropicUsageJson(usage),
    });
    return out + named('message_stop', {});
  }
}

/** Anthropic's mid-stream error event (the SDK throws APIError on `event: error`). */
export function anthropicErrorEnding(error: StreamError): string {
  return named('error', { error: { type: error.type, message: error.message } });
}
