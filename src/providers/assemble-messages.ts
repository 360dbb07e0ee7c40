/**
 * Anthropic Messages: the plain `message` built from its stream. message_start gives the message
 * (id, model, role, usage's input side); each content block starts with its shell
 * (content_block_start) and grows by deltas: text_delta -> text, thinking_delta -> thinking,
 * signature_delta -> signature, citations_delta -> citations, input_json_delta -> the tool_use
 * input (parsed at content_block_stop; `{}` when the JSON is empty or cut short).
 * message_delta sets stop_reason / stop_sequence and its (cumulative) usage counts replace the
 * start's; message_stop finishes the message.
 */
import type { Usage } from '../usage.js';
import { SseAssembler } from './assemble.js';
import { isObject } from './common.js';
import { type SseFields, sseEventType, tryParseJson } from './sse.js';
import { anthropicUsageJson } from './stream-endings.js';
import type { StreamTap } from './types.js';

type Json = Record<string, unknown>;

interface Block {
  block: Json;
  text: string[];
  thinking: string[];
  json: string[];
}

function parseInput(json: string): unknown {
  if (json.trim() === '') return {};
  const parsed = tryParseJson(json);
  return parsed === undefined ? {} : parsed;
}

class MessageAssembler extends SseAssembler {
  private message: Json | undefined;
  private readonly blocks = new Map<number, Block>();
  private usageJson: Json = {};
  private stopReason: unknown = null;
  private stopSequence: unknown = null;
  private done = false;

  constructor(tap: StreamTap) {
    super(tap);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    const type = sseEventType(fields);
    if (type === 'ping') return;
    const event = tryParseJson(data);
    if (!isObject(event)) return;
    switch (type) {
      case 'error':
        if (isObject(event.error)) this.error ??= { type: 'error', error: event.error };
        return;
      case 'message_start':
        if (isObject(event.message)) {
          this.message = event.message;
          if (isObject(event.message.usage)) this.usageJson = { ...event.message.usage };
        }
        return;
      case 'content_block_start':
        if (typeof event.index === 'number' && isObject(event.content_block)) {
          this.blocks.set(event.index, {
            block: { ...event.content_block },
            text: [],
            thinking: [],
            json: [],
          });
        }
        return;
      case 'content_block_delta':
        this.delta(event);
        return;
      case 'message_delta':
        if (isObject(event.delta)) {
          if ('stop_reason' in event.delta) this.stopReason = event.delta.stop_reason;
          if ('stop_sequence' in event.delta) this.stopSequence = event.delta.stop_sequence;
        }
        if (isObject(event.usage)) {
          for (const [key, value] of Object.entries(event.usage))
            if (value !== null) this.usageJson[key] = value;
        }
        return;
      case 'message_stop':
        this.done = true;
        return;
      default:
        return;
    }
  }

  private delta(event: Json): void {
    const block = typeof event.index === 'number' ? this.blocks.get(event.index) : undefined;
    const delta = event.delta;
    if (block === undefined || !isObject(delta)) return;
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text === 'string') block.text.push(delta.text);
        return;
      case 'thinking_delta':
        if (typeof delta.thinking === 'string') block.thinking.push(delta.thinking);
        return;
      case 'signature_delta':
        if (typeof delta.signature === 'string') block.block.signature = delta.signature;
        return;
      case 'input_json_delta':
        if (typeof delta.partial_json === 'string') block.json.push(delta.partial_json);
        return;
      case 'citations_delta': {
        const citations = Array.isArray(block.block.citations) ? block.block.citations : [];
        block.block.citations = [...citations, delta.citation];
        return;
      }
      default:
        return;
    }
  }

  private content(): Json[] {
    const ordered = [...this.blocks.entries()].sort((a, b) => a[0] - b[0]);
    return ordered.map(([, b]) => {
      const block: Json = { ...b.block };
      if (block.type === 'text')
        block.text = `${typeof block.text === 'string' ? block.text : ''}${b.text.join('')}`;
      else if (block.type === 'thinking') {
        block.thinking = `${typeof block.thinking === 'string' ? block.thinking : ''}${b.thinking.join('')}`;
      } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
        if (b.json.length > 0) block.input = parseInput(b.json.join(''));
      }
      return block;
    });
  }

  private body(stopReason: unknown, stopSequence: unknown, usage: Json): Json {
    return {
      ...(this.message ?? { type: 'message', role: 'assistant' }),
      content: this.content(),
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage,
    };
  }

  protected finished(): unknown {
    if (!this.done) return undefined;
    return this.body(this.stopReason, this.stopSequence, { ...this.usageJson });
  }

  protected cut(usage: Usage): unknown {
    return this.body('max_tokens', null, { ...this.usageJson, ...anthropicUsageJson(usage) });
  }
}

/** `tap`: a pass-through Anthropic tap (usage and text; anthropic.ts passes it, avoiding an import cycle). */
export function createMessagesAssembler(tap: StreamTap): SseAssembler {
  return new MessageAssembler(tap);
}
