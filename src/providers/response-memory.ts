/**
 * Token counts of Responses API responses this gateway served, by response id, so a follow-up
 * call with `previous_response_id` can be reserved for the context the provider adds: the earlier
 * response's input and output become input of the new call. Bounded (least recently used entries
 * go first) and in memory: a miss (another instance served it, a restart, evicted) means "unknown",
 * and the caller reserves the model's context window instead.
 *
 * What to remember for a response: its billed input (inputTokens + cachedInputTokens +
 * cacheWriteTokens, which already include its own predecessors) plus its outputTokens (reasoning
 * included: the worst case, as reasoning items may be carried into the next turn).
 */
import type { Usage } from '../usage.js';

export const DEFAULT_REMEMBERED_RESPONSES = 10_000;

export class ResponseTokenMemory {
  // A Map iterates in insertion order: re-inserting on access keeps the oldest entry first.
  private readonly tokens = new Map<string, number>();

  constructor(readonly capacity: number = DEFAULT_REMEMBERED_RESPONSES) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`ResponseTokenMemory capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.tokens.size;
  }

  /** Remembers the context tokens a response leaves behind (see contextTokensOf). */
  remember(responseId: string, contextTokens: number): void {
    if (responseId.length === 0 || !Number.isFinite(contextTokens) || contextTokens < 0) return;
    this.tokens.delete(responseId);
    this.tokens.set(responseId, Math.ceil(contextTokens));
    if (this.tokens.size > this.capacity) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
  }

  /** The remembered context tokens of a response, or undefined when this gateway does not know it. */
  contextTokens(responseId: string): number | undefined {
    const known = this.tokens.get(responseId);
    if (known === undefined) return undefined;
    this.tokens.delete(responseId);
    this.tokens.set(responseId, known);
    return known;
  }
}

/** The tokens a served response adds to the context of a call that continues it. */
export function contextTokensOf(usage: Usage): number {
  return usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens + usage.outputTokens;
}
