/**
 * Rate and concurrency limits as the store sees them. A limit is configured with the budgets' scope
 * language (`limits:` in the config, `anonymous.limits` for each trial visitor); each request falls
 * under a set of limit *instances* (one per distinct value of a "*" scope), checked and applied in
 * the same atomic store step as its budget lines (src/store/sqlite/limits.ts, redis/lua/limits.lua).
 */

/** One limit instance a request falls under. 0 means "no limit of this kind". */
export interface LimitSpec {
  /** The configured limit's id (metrics label, admin listing). */
  limitId: string;
  /** Instance id: the limit id plus the "*" values (e.g. "per-key|key=web-app"). */
  instance: string;
  requestsPerMinute: number;
  tokensPerMinute: number;
  concurrentRequests: number;
  /**
   * The client's request was already counted on this instance by an earlier attempt (a fallback
   * to another model): requests_per_minute neither checks nor counts it again (OpenAI counts the
   * requests a client makes); its slot and tokens are taken as for any attempt.
   */
  counted?: true;
}

/** What a request asks of its limits: one request, one slot, and its worst-case tokens. */
export interface LimitAsk {
  /** Prompt tokens (everything not scaled by the output cap). */
  promptTokens: number;
  /** Tokens per unit of output cap (the request's output multiplier: n, best_of, prompts). */
  tokensPerCap: number;
}

/** A limit instance's use after the store's step (for headers, metrics and the admin API). */
export interface LimitUse {
  requests: number;
  tokens: number;
  inFlight: number;
  /** Ms until every request counted now has left the window (OpenAI's x-ratelimit-reset-requests). */
  resetRequestsMs: number;
  /** Ms until every token counted now has left the window. */
  resetTokensMs: number;
}

export type LimitKind = 'requests' | 'tokens' | 'concurrent';

/** Why a request was refused by a limit. */
export interface LimitRefusal {
  /** Index of the refusing limit in the request's `limits`. */
  limitIndex: number;
  kind: LimitKind;
  /** Ms until enough frees for this request (concurrency: a short fixed wait, nothing tells when). */
  retryAfterMs: number;
  /** The request alone asks more tokens than the limit allows per window: it can never pass. */
  tooLarge: boolean;
}
