/**
 * Token counts of Responses API responses this gateway served, by response id, so a follow-up
 * call with `previous_response_id` can be reserved for the context the provider adds: the earlier
 * response's input and output become input of the new call. Bounded (least recently used entries
 * go first) and in memory: a miss (another instance served it, a restart, evicted) means "unknown",
 * and the caller reserves the model's context window instead.
 *
 * Each entry also says who it was served to and by which provider, so GET /v1/responses/{id}
 * (routes/proxy/response-retrieve.ts) answers only the caller it was served to. This memory is per
 * instance; the gateway also writes each owner to the shared store (onServed), which a retrieval
 * asks when this memory does not know the id. A miss everywhere is a 404: never another key's answer.
 *
 * What to remember for a response: its billed input (inputTokens + cachedInputTokens +
 * cacheWriteTokens, which already include its own predecessors) plus its outputTokens (reasoning
 * included: the worst case, as reasoning items may be carried into the next turn).
 */
import type { Usage } from '../usage.js';

export const DEFAULT_REMEMBERED_RESPONSES = 10_000;

/** Who a response was served to and where it lives, for its retrieval. */
export interface ServedResponse {
  /** responseOwner() of the caller it was served to. */
  owner: string;
  /** The configured provider (name) that answered it. */
  provider: string;
}

interface Entry extends Partial<ServedResponse> {
  contextTokens: number;
}

export class ResponseTokenMemory {
  // A Map iterates in insertion order: re-inserting on access keeps the oldest entry first.
  private readonly tokens = new Map<string, Entry>();

  /**
   * `onServed` is told of every response remembered with its owner (the gateway writes it to the
   * shared store, store/response-owners.ts, so other instances can answer its retrieval).
   */
  constructor(
    readonly capacity: number = DEFAULT_REMEMBERED_RESPONSES,
    private readonly onServed?: (responseId: string, served: ServedResponse) => void,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`ResponseTokenMemory capacity must be a positive integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.tokens.size;
  }

  /**
   * Remembers the context tokens a response leaves behind (see contextTokensOf), and whom it was
   * served to (without `served`, nobody may retrieve it through the gateway).
   */
  remember(responseId: string, contextTokens: number, served?: ServedResponse): void {
    if (responseId.length === 0 || !Number.isFinite(contextTokens) || contextTokens < 0) return;
    this.tokens.delete(responseId);
    this.tokens.set(responseId, { contextTokens: Math.ceil(contextTokens), ...served });
    if (served) this.onServed?.(responseId, served);
    if (this.tokens.size > this.capacity) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
  }

  /** The remembered context tokens of a response, or undefined when this gateway does not know it. */
  contextTokens(responseId: string): number | undefined {
    return this.touch(responseId)?.contextTokens;
  }

  /** Whom and where a response was served, or undefined when this gateway does not know it. */
  served(responseId: string): ServedResponse | undefined {
    const known = this.touch(responseId);
    return known?.owner === undefined || known.provider === undefined
      ? undefined
      : { owner: known.owner, provider: known.provider };
  }

  private touch(responseId: string): Entry | undefined {
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

/**
 * Whom a response belongs to: the virtual key, or for a trial user (all share the key id
 * `anonymous`) that user's own namespace, so one trial user never reads another's. Undefined when
 * the caller cannot be told apart (an anonymous caller without a user id): nobody may retrieve then.
 */
export function responseOwner(identity: {
  keyId: string;
  user?: string;
  anonymous: boolean;
}): string | undefined {
  if (!identity.anonymous) return `key:${identity.keyId}`;
  return identity.user ? `anonymous:${identity.user}` : undefined;
}
