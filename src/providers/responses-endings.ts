/**
 * The Responses API stream's state as far as its ending needs it, and the endings themselves.
 *
 * At `max_output_tokens` the API closes what is open (output_text.done / refusal.done /
 * function_call_arguments.done, content_part.done, output_item.done with the item's status
 * "incomplete") and ends with `response.incomplete`: the response with status "incomplete",
 * `incomplete_details: {reason: "max_output_tokens"}`, the output so far and usage. A failure ends
 * with `event: error`, its error nested in `error` (what the API sends and what openai-node throws
 * on: the SDK raises on a data `error` member, and ignores a top-level code / message), then
 * `response.failed`. Every event continues the stream's sequence_number.
 *
 * The lifecycle events (response.created / in_progress, output_item.added / done,
 * content_part.added / done) are parsed: a handful per stream. Deltas, the frequent events, are
 * scanned for their indexes and text only.
 */
import type { Usage } from '../usage.js';
import { isObject } from './common.js';
import { collectStringMembers, stringMembersOf, tryParseJson } from './sse.js';
import type { StreamError } from './types.js';

type Json = Record<string, unknown>;

interface Part {
  part: Json;
  text: string[];
  done: boolean;
}

interface Item {
  item: Json;
  parts: Map<number, Part>;
  args: string[];
  done: boolean;
}

const OUTPUT_INDEX = /"output_index": *(\d+)/;
const CONTENT_INDEX = /"content_index": *(\d+)/;
const SEQUENCE = /"sequence_number": *(\d+)/;
const DELTA = stringMembersOf(['delta']);

/** Responses API usage as the API reports it, from the gateway's Usage. */
export function responsesUsageJson(usage: Usage): Json {
  const input = usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: input + usage.outputTokens,
  };
}

function index(pattern: RegExp, data: string): number | undefined {
  const match = pattern.exec(data);
  return match ? Number(match[1]) : undefined;
}

export class ResponseTracker {
  private response: Json | undefined;
  private readonly items = new Map<number, Item>();
  private sequence = -1;

  read(type: string | undefined, data: string): void {
    const sequence = index(SEQUENCE, data);
    if (sequence !== undefined && sequence > this.sequence) this.sequence = sequence;
    switch (type) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
      case 'response.function_call_arguments.delta':
        this.delta(type, data);
        return;
      case 'response.created':
      case 'response.in_progress':
      case 'response.output_item.added':
      case 'response.output_item.done':
      case 'response.content_part.added':
      case 'response.content_part.done':
        this.lifecycle(type, tryParseJson(data));
        return;
      default:
        return;
    }
  }

  private delta(type: string, data: string): void {
    const item = this.items.get(index(OUTPUT_INDEX, data) ?? -1);
    if (item === undefined) return;
    if (type === 'response.function_call_arguments.delta') {
      collectStringMembers(data, DELTA, item.args);
      return;
    }
    const part = item.parts.get(index(CONTENT_INDEX, data) ?? -1);
    if (part !== undefined) collectStringMembers(data, DELTA, part.text);
  }

  private lifecycle(type: string, event: unknown): void {
    if (!isObject(event)) return;
    if (type === 'response.created' || type === 'response.in_progress') {
      if (isObject(event.response)) this.response = event.response;
      return;
    }
    const outputIndex = typeof event.output_index === 'number' ? event.output_index : -1;
    if (type === 'response.output_item.added' && isObject(event.item)) {
      this.items.set(outputIndex, { item: event.item, parts: new Map(), args: [], done: false });
      return;
    }
    const item = this.items.get(outputIndex);
    if (item === undefined) return;
    if (type === 'response.output_item.done' && isObject(event.item)) {
      item.item = event.item;
      item.done = true;
      return;
    }
    const contentIndex = typeof event.content_index === 'number' ? event.content_index : -1;
    if (!isObject(event.part)) return;
    if (type === 'response.content_part.added') {
      item.parts.set(contentIndex, { part: event.part, text: [], done: false });
    } else {
      item.parts.set(contentIndex, { part: event.part, text: [], done: true });
    }
  }

  private event(type: string, data: Json): string {
    this.sequence++;
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sequence_number: this.sequence })}\n\n`;
  }

  /** Closes every open item as the API does at its cap; the output list, and the events into `out`. */
  private closeItems(out: string[] | null): Json[] {
    const output: Json[] = [];
    const ordered = [...this.items.entries()].sort((a, b) => a[0] - b[0]);
    for (const [outputIndex, entry] of ordered) {
      if (entry.done) {
        output.push(entry.item);
        continue;
      }
      const itemId = entry.item.id;
      let closed: Json;
      if (entry.item.type === 'function_call') {
        const args = entry.args.join('');
        out?.push(
          this.event('response.function_call_arguments.done', {
            item_id: itemId,
            output_index: outputIndex,
            arguments: args,
          }),
        );
        closed = { ...entry.item, arguments: args, status: 'incomplete' };
      } else if (entry.item.type === 'message') {
        const content: Json[] = [];
        const parts = [...entry.parts.entries()].sort((a, b) => a[0] - b[0]);
        for (const [contentIndex, part] of parts) {
          const finished = part.done ? part.part : this.finishPart(part);
          if (!part.done && out !== null) {
            const at = { item_id: itemId, output_index: outputIndex, content_index: contentIndex };
            if (finished.type === 'refusal')
              out.push(this.event('response.refusal.done', { ...at, refusal: finished.refusal }));
            else
              out.push(this.event('response.output_text.done', { ...at, text: finished.text, logprobs: [] }));
            out.push(this.event('response.content_part.done', { ...at, part: finished }));
          }
          content.push(finished);
        }
        closed = { ...entry.item, status: 'incomplete', content };
      } else {
        closed = { ...entry.item, status: 'incomplete' };
      }
      out?.push(this.event('response.output_item.done', { output_index: outputIndex, item: closed }));
      output.push(closed);
    }
    return output;
  }

  private finishPart(part: Part): Json {
    const text = part.text.join('');
    if (part.part.type === 'refusal') return { ...part.part, refusal: text };
    return { ...part.part, text };
  }

  /** The response as the API returns it when max_output_tokens cut it here (output closed). */
  incompleteResponse(usage: Usage): Json {
    return this.incomplete(this.closeItems(null), usage);
  }

  private incomplete(output: Json[], usage: Usage): Json {
    return {
      ...(this.response ?? { object: 'response' }),
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output,
      usage: responsesUsageJson(usage),
    };
  }

  capEnding(usage: Usage): string {
    const events: string[] = [];
    const output = this.closeItems(events);
    events.push(this.event('response.incomplete', { response: this.incomplete(output, usage) }));
    return events.join('');
  }

  errorEnding(error: StreamError): string {
    const code = error.code ?? error.type;
    const failed = {
      ...(this.response ?? { object: 'response' }),
      status: 'failed',
      error: { code, message: error.message },
      incomplete_details: null,
    };
    return (
      this.event('error', {
        code,
        message: error.message,
        param: null,
        error: { type: error.type, code, message: error.message, param: null },
      }) + this.event('response.failed', { response: failed })
    );
  }
}
