/**
 * Taps for OpenAI streams.
 *
 * Chat / completions: every event is `data: {chunk}` and the stream ends with `data: [DONE]`. With
 * `stream_options.include_usage`, OpenAI adds `"usage":null` to every chunk and one last chunk with
 * `"choices":[]` and the usage object. When the gateway asked for that (the client did not), the tap
 * removes both, by cutting bytes, so the client gets the stream it would have had without the option.
 *
 * Responses: named events; usage arrives in `response.completed` (or `.incomplete` / `.failed`).
 */
import type { Usage } from '../usage.js';
import { count, isObject, member } from './common.js';
import { collectStringMembers, type SseFields, sseEventType, tryParseJson } from './sse.js';
import { SseTap } from './tap.js';

/** OpenAI usage (chat, completions, embeddings) in the gateway's terms; undefined when not an object. */
export function openAiUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const prompt = count(usage.prompt_tokens);
  const cached = Math.min(prompt, count(member(usage.prompt_tokens_details, 'cached_tokens')));
  return {
    inputTokens: prompt - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(usage.completion_tokens),
    reasoningTokens: count(member(usage.completion_tokens_details, 'reasoning_tokens')),
  };
}

/** Responses API usage in the gateway's terms; undefined when not an object. */
export function responsesUsage(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const input = count(usage.input_tokens);
  const cached = Math.min(input, count(member(usage.input_tokens_details, 'cached_tokens')));
  return {
    inputTokens: input - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(usage.output_tokens),
    reasoningTokens: count(member(usage.output_tokens_details, 'reasoning_tokens')),
  };
}

/** Keys whose string values are generated text in a chat / completions chunk. */
const CHAT_TEXT_KEYS = ['"content":', '"refusal":', '"arguments":', '"reasoning_content":'];
const COMPLETIONS_TEXT_KEYS = ['"text":'];

export class ChatStreamTap extends SseTap {
  constructor(
    private readonly textKeys: readonly string[],
    stripUsageChunk: boolean,
  ) {
    super(stripUsageChunk);
  }

  static chat(stripUsageChunk: boolean): ChatStreamTap {
    return new ChatStreamTap(CHAT_TEXT_KEYS, stripUsageChunk);
  }

  static completions(stripUsageChunk: boolean): ChatStreamTap {
    return new ChatStreamTap(COMPLETIONS_TEXT_KEYS, stripUsageChunk);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined || data === '[DONE]') return;
    if (data.includes('"usage":{')) {
      const chunk = tryParseJson(data);
      const usage = openAiUsage(member(chunk, 'usage'));
      if (usage !== undefined) {
        this.current = usage;
        this.complete = true;
      }
    }
    for (const key of this.textKeys) collectStringMembers(data, key, this.text.list);
  }

  protected override rewrite(event: Uint8Array, fields: SseFields): Uint8Array | null {
    const data = fields.data;
    if (data === undefined || !data.includes('"usage":')) return event;
    return removeUsageMember(event, data.includes('"choices":[]'));
  }
}

const RESPONSES_TEXT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.mcp_call_arguments.delta',
  'response.code_interpreter_call_code.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.audio.transcript.delta',
]);

const RESPONSES_FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class ResponsesStreamTap extends SseTap {
  constructor() {
    // The Responses API always reports usage: nothing to strip.
    super(false);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    if (type !== undefined && RESPONSES_TEXT_DELTAS.has(type)) {
      collectStringMembers(data, '"delta":', this.text.list);
      return;
    }
    if ((type === undefined || RESPONSES_FINAL.has(type)) && data.includes('"usage":{')) {
      const event = tryParseJson(data);
      const usage = responsesUsage(member(member(event, 'response'), 'usage'));
      if (usage !== undefined) {
        this.current = usage;
        this.complete = true;
      }
    }
  }
}

const USAGE_KEY = Buffer.from('"usage":');

/**
 * Removes the top-level `"usage":...` member from an event's bytes (OpenAI writes it last, so the last
 * occurrence), with its separating comma; the rest stays byte-identical. Returns null (drop the event)
 * when it is the gateway's usage chunk: a usage object with `"choices":[]`. Unexpected shapes are
 * forwarded unchanged.
 */
export function removeUsageMember(event: Uint8Array, noChoices: boolean): Uint8Array | null {
  const bytes = Buffer.from(event.buffer, event.byteOffset, event.byteLength);
  const keyAt = bytes.lastIndexOf(USAGE_KEY);
  if (keyAt < 0) return event;
  const valueAt = skipSpaces(bytes, keyAt + USAGE_KEY.length);
  let valueEnd: number;
  if (bytes[valueAt] === 0x7b /* { */) {
    if (noChoices) return null;
    valueEnd = endOfObject(bytes, valueAt);
  } else if (bytes.toString('latin1', valueAt, valueAt + 4) === 'null') {
    valueEnd = valueAt + 4;
  } else {
    return event;
  }
  if (valueEnd < 0) return event;
  let cutStart = keyAt;
  let cutEnd = valueEnd;
  const before = skipSpacesBackward(bytes, keyAt - 1);
  if (bytes[before] === 0x2c /* , */) {
    cutStart = before;
  } else {
    const after = skipSpaces(bytes, valueEnd);
    if (bytes[after] === 0x2c) cutEnd = after + 1;
  }
  const out = new Uint8Array(event.length - (cutEnd - cutStart));
  out.set(event.subarray(0, cutStart), 0);
  out.set(event.subarray(cutEnd), cutStart);
  return out;
}

function skipSpaces(bytes: Uint8Array, at: number): number {
  while (bytes[at] === 0x20) at++;
  return at;
}

function skipSpacesBackward(bytes: Uint8Array, at: number): number {
  while (at >= 0 && bytes[at] === 0x20) at--;
  return at;
}

/** Index just past the `}` closing the object that starts at `start`; -1 when unterminated. */
function endOfObject(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
