/**
 * OpenAI chat / legacy completions: the plain answer built from the stream's chunks.
 *
 * Chat (`chat.completion`): per choice, message {role, content, refusal, tool_calls (assembled
 * from their deltas by tool-call index: id, type and name from the first, arguments
 * concatenated), annotations}, logprobs ({content, refusal} lists concatenated, else null) and
 * finish_reason; then usage, service_tier and system_fingerprint as the chunks carried them.
 * Content is null when the stream sent none, or only tool calls and empty text (as the API
 * answers a tool call). Completions (`text_completion`): per choice text, logprobs (lists
 * concatenated) and finish_reason. The usage object is the stream's own (the last one reported).
 */
import type { Usage } from '../usage.js';
import { SseAssembler } from './assemble.js';
import { isObject } from './common.js';
import { type SseFields, tryParseJson } from './sse.js';
import { chatUsageJson, completionsUsageJson } from './stream-endings.js';
import type { StreamTap } from './types.js';

type Json = Record<string, unknown>;

interface ToolCall {
  id?: unknown;
  type?: unknown;
  name?: unknown;
  args: string[];
  extra: Json;
}

interface Choice {
  index: number;
  role: unknown;
  content: string[] | null;
  refusal: string[] | null;
  toolCalls: Map<number, ToolCall>;
  annotations: unknown[];
  logprobs: Json | null;
  finish: string | null;
}

/** Concatenates the list members of a logprobs delta into the choice's logprobs. */
function mergeLogprobs(into: Json | null, delta: unknown): Json | null {
  if (!isObject(delta)) return into;
  const merged: Json = into ?? {};
  for (const [key, value] of Object.entries(delta)) {
    const before = merged[key];
    if (Array.isArray(value)) merged[key] = Array.isArray(before) ? [...before, ...value] : [...value];
    else if (!(key in merged) || value !== null) merged[key] = value;
  }
  return merged;
}

function append(choice: Choice, field: 'content' | 'refusal', text: string): void {
  const pieces = choice[field];
  if (pieces === null) choice[field] = [text];
  else pieces.push(text);
}

const HEAD = ['id', 'created', 'model', 'service_tier', 'system_fingerprint'] as const;

class ChoicesAssembler extends SseAssembler {
  private readonly head: Json = {};
  private readonly choices = new Map<number, Choice>();
  private usageJson: unknown;
  private done = false;

  constructor(
    private readonly kind: 'chat' | 'completions',
    tap: StreamTap,
  ) {
    super(tap);
  }

  protected read(fields: SseFields): void {
    const data = fields.data;
    if (data === undefined) return;
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const chunk = tryParseJson(data);
    if (!isObject(chunk)) return;
    if (isObject(chunk.error)) {
      this.error ??= { error: chunk.error };
      return;
    }
    for (const field of HEAD) if (chunk[field] !== undefined) this.head[field] = chunk[field];
    if (isObject(chunk.usage)) this.usageJson = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices) if (isObject(raw)) this.readChoice(raw);
  }

  private choice(index: number): Choice {
    let choice = this.choices.get(index);
    if (choice === undefined) {
      choice = {
        index,
        role: undefined,
        content: null,
        refusal: null,
        toolCalls: new Map(),
        annotations: [],
        logprobs: null,
        finish: null,
      };
      this.choices.set(index, choice);
    }
    return choice;
  }

  private readChoice(raw: Json): void {
    if (typeof raw.index !== 'number') return;
    const choice = this.choice(raw.index);
    if (typeof raw.finish_reason === 'string') choice.finish = raw.finish_reason;
    choice.logprobs = mergeLogprobs(choice.logprobs, raw.logprobs);
    if (this.kind === 'completions') {
      if (typeof raw.text === 'string') append(choice, 'content', raw.text);
      return;
    }
    const delta = raw.delta;
    if (!isObject(delta)) return;
    if (typeof delta.role === 'string') choice.role = delta.role;
    if (typeof delta.content === 'string') append(choice, 'content', delta.content);
    if (typeof delta.refusal === 'string') append(choice, 'refusal', delta.refusal);
    if (Array.isArray(delta.annotations)) choice.annotations.push(...delta.annotations);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isObject(call)) this.readToolCall(choice, call);
    }
  }

  private readToolCall(choice: Choice, call: Json): void {
    const index = typeof call.index === 'number' ? call.index : choice.toolCalls.size;
    let tool = choice.toolCalls.get(index);
    if (tool === undefined) {
      tool = { args: [], extra: {} };
      choice.toolCalls.set(index, tool);
    }
    if (call.id !== undefined && call.id !== null) tool.id = call.id;
    if (call.type !== undefined && call.type !== null) tool.type = call.type;
    const fn = call.function;
    if (isObject(fn)) {
      if (typeof fn.name === 'string' && fn.name !== '') tool.name = fn.name;
      if (typeof fn.arguments === 'string') tool.args.push(fn.arguments);
    }
  }

  private body(finishOpen: string | null, usage: unknown): Json {
    const choices = [...this.choices.values()].sort((a, b) => a.index - b.index);
    if (choices.length === 0 && finishOpen !== null) choices.push(this.choice(0));
    const common = {
      id: this.head.id,
      object: this.kind === 'chat' ? 'chat.completion' : 'text_completion',
      created: this.head.created,
      model: this.head.model,
    };
    if (this.kind === 'completions') {
      return {
        ...common,
        choices: choices.map((c) => ({
          text: (c.content ?? []).join(''),
          index: c.index,
          logprobs: c.logprobs,
          finish_reason: c.finish ?? finishOpen,
        })),
        usage,
        system_fingerprint: this.head.system_fingerprint ?? null,
      };
    }
    const body: Json = {
      ...common,
      choices: choices.map((c) => ({
        index: c.index,
        message: this.message(c),
        logprobs: c.logprobs,
        finish_reason: c.finish ?? finishOpen,
      })),
      usage,
    };
    if (this.head.service_tier !== undefined) body.service_tier = this.head.service_tier;
    body.system_fingerprint = this.head.system_fingerprint ?? null;
    return body;
  }

  private message(c: Choice): Json {
    const tools = [...c.toolCalls.entries()].sort((a, b) => a[0] - b[0]);
    const text = c.content === null ? null : c.content.join('');
    const message: Json = {
      role: typeof c.role === 'string' ? c.role : 'assistant',
      content: text === '' && tools.length > 0 ? null : text,
      refusal: c.refusal === null ? null : c.refusal.join(''),
    };
    if (tools.length > 0) {
      message.tool_calls = tools.map(([, t]) => ({
        id: t.id,
        type: t.type ?? 'function',
        function: { name: t.name, arguments: t.args.join('') },
      }));
    }
    message.annotations = c.annotations;
    return message;
  }

  protected finished(): unknown {
    const allFinished = this.choices.size > 0 && [...this.choices.values()].every((c) => c.finish !== null);
    if (!this.done && !(allFinished && this.usageJson !== undefined)) return undefined;
    return this.body(null, this.usageJson);
  }

  protected cut(usage: Usage): unknown {
    return this.body('length', this.kind === 'chat' ? chatUsageJson(usage) : completionsUsageJson(usage));
  }
}

/** `tap`: a pass-through tap of the same API, not stripping (usage and text for the meter). */
export function createChoicesAssembler(kind: 'chat' | 'completions', tap: StreamTap): SseAssembler {
  return new ChoicesAssembler(kind, tap);
}
