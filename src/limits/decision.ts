/**
 * The limit decision, the one copy: the SQLite store runs it inside its reserve transaction, and
 * src/store/redis/lua/limits.lua mirrors it line for line (the store contract suite runs the same
 * cases against both).
 *
 * Why a sliding window of 1-second buckets, not GCRA: a GCRA (or token bucket) of 30/minute lets a
 * burst of 30 through and then one more every 2 s, so a 60 s window can see 59 requests: "per
 * minute" would only hold on average. Users read `requests_per_minute: 30` as "never more than 30
 * in any minute", and that is what this counts: a request is admitted only when the requests (or
 * tokens) of the current bucket and the 60 before it, plus its own, fit. Any 60 s window that ends
 * at an admission lies inside those 61 buckets, so no 60 s window ever holds more than the limit.
 * The price is at most 1 s of conservatism (a freed request may come back up to 1 s late) and
 * 61 x 2 small counters per limit instance, whatever the traffic (a log of timestamps would grow
 * with the tokens limit). Tokens are reserved at the request's worst case (prompt + output cap) in
 * the bucket the request started in and settled to what the provider counted, like money.
 */
import type { LimitAsk, LimitKind, LimitRefusal, LimitSpec, LimitUse } from './types.js';

export const WINDOW_MS = 60_000;
export const BUCKET_MS = 1_000;
/** Buckets counted: the current one and the 60 before it. */
export const WINDOW_BUCKETS = WINDOW_MS / BUCKET_MS + 1;
/** Nothing says when a concurrency slot frees: retry soon. */
export const CONCURRENCY_RETRY_MS = 1_000;

/** One bucket: [bucket index (floor(ms / BUCKET_MS)), requests, tokens]. */
export type Bucket = [bucket: number, requests: number, tokens: number];

/** A limit instance as stored: requests in flight and its live buckets, oldest first. */
export interface WindowState {
  inFlight: number;
  buckets: Bucket[];
}

export function bucketOf(nowMs: number): number {
  return Math.floor(nowMs / BUCKET_MS);
}

/** True while a bucket still counts at `nowMs`; older ones may be dropped. */
export function isLive(bucket: number, nowMs: number): boolean {
  return bucket > bucketOf(nowMs) - WINDOW_BUCKETS;
}

/** When a bucket's requests and tokens stop counting. */
function leavesAtMs(bucket: number): number {
  return (bucket + WINDOW_BUCKETS) * BUCKET_MS;
}

/** Ms until `excess` of a field has left the window (oldest buckets first). */
function freeAfterMs(buckets: readonly Bucket[], field: 1 | 2, excess: number, nowMs: number): number {
  let freed = 0;
  for (const b of buckets) {
    freed += b[field];
    if (freed >= excess) return Math.max(1, leavesAtMs(b[0]) - nowMs);
  }
  return WINDOW_MS;
}

function firstAfterMs(buckets: readonly Bucket[], field: 1 | 2, nowMs: number): number {
  for (const b of buckets) if (b[field] > 0) return Math.max(0, leavesAtMs(b[0]) - nowMs);
  return 0;
}

export function useOf(state: WindowState, nowMs: number): LimitUse {
  let requests = 0;
  let tokens = 0;
  for (const b of state.buckets) {
    requests += b[1];
    tokens += b[2];
  }
  return {
    requests,
    tokens,
    inFlight: state.inFlight,
    resetRequestsMs: firstAfterMs(state.buckets, 1, nowMs),
    resetTokensMs: firstAfterMs(state.buckets, 2, nowMs),
  };
}

export type LimitDecision = { status: 'ok'; grantedCap: number } | ({ status: 'limited' } & LimitRefusal);

function limited(limitIndex: number, kind: LimitKind, retryAfterMs: number, tooLarge = false): LimitDecision {
  return { status: 'limited', limitIndex, kind, retryAfterMs, tooLarge };
}

/**
 * Every limit must take one more request, one more slot and the request's tokens at `minCap`;
 * a tokens limit may lower the output cap (fit-to-limit, like fit-to-budget), never below minCap.
 * Concurrency is checked first, then requests, then tokens; the first limit that refuses decides.
 */
export function decideLimits(
  specs: readonly LimitSpec[],
  states: readonly WindowState[],
  ask: LimitAsk,
  cap: number,
  minCap: number,
  nowMs: number,
): LimitDecision {
  let granted = cap;
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const state = states[i]!;
    const use = useOf(state, nowMs);
    if (spec.concurrentRequests > 0 && use.inFlight >= spec.concurrentRequests)
      return limited(i, 'concurrent', CONCURRENCY_RETRY_MS);
    if (!spec.counted && spec.requestsPerMinute > 0 && use.requests + 1 > spec.requestsPerMinute)
      return limited(
        i,
        'requests',
        freeAfterMs(state.buckets, 1, use.requests + 1 - spec.requestsPerMinute, nowMs),
      );
    if (spec.tokensPerMinute > 0) {
      const need = ask.promptTokens + minCap * ask.tokensPerCap;
      if (need > spec.tokensPerMinute) return limited(i, 'tokens', WINDOW_MS, true);
      const available = spec.tokensPerMinute - use.tokens;
      if (need > available)
        return limited(i, 'tokens', freeAfterMs(state.buckets, 2, need - available, nowMs));
      if (ask.tokensPerCap > 0)
        granted = Math.min(granted, Math.floor((available - ask.promptTokens) / ask.tokensPerCap));
    }
  }
  return { status: 'ok', grantedCap: granted };
}

/** Tokens a reservation holds on its limits at the granted cap. */
export function reservedTokens(ask: LimitAsk, grantedCap: number): number {
  return ask.promptTokens + grantedCap * ask.tokensPerCap;
}
