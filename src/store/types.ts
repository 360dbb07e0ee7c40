/**
 * The budget store: the one place where money is counted. Two implementations (sqlite/budget.ts,
 * redis/budget.ts) pass one contract suite (contract.test-helpers.ts). Every operation is atomic: a reservation
 * succeeds on every line it names or on none.
 *
 * Vocabulary:
 * - a *line* is one budget instance in one period: a config/API budget, or one instance of a "*"
 *   template budget (e.g. per-user-daily for user alice), in the period the request falls in;
 * - a line's *effective limit* = the base limit the caller passes (from config, so edits apply at
 *   once) + rollover carried in on the period's first touch + top-ups;
 * - *committed* = spent + reserved; *available* = effective limit - committed.
 */
import type { LimitAsk, LimitRefusal, LimitSpec, LimitUse } from '../limits/types.js';
import type { Nano } from '../money.js';

export interface LineSpec {
  /** Budget instance id: the budget id, plus the "*" values for template budgets (e.g. "per-user|user=alice"). */
  instance: string;
  /** The config/API budget this line belongs to (for listing template instances). */
  budgetId: string;
  /** Calendar period id, e.g. "2026-11-28", "2026-W48", "2026-11"; "all" for prepaid budgets. */
  period: string;
  /** The previous period's id, for rollover; null when the budget has no rollover. */
  previousPeriod: string | null;
  /** Base limit from config or the API, nano-USD. */
  limitNano: Nano;
  /** Rollover cap, nano-USD; 0 when the budget has no rollover. */
  rolloverMaxNano: Nano;
  /**
   * Committed amount at or past which a downgrade mapping applies to this request's model;
   * -1 when no downgrade applies. The store answers `downgrade` instead of reserving when reached,
   * so a stale local view never lets an expensive model through.
   */
  downgradeAtNano: Nano;
  /** Seconds until this period's counters may be dropped (period length + margin); 0 = never. */
  ttlSeconds: number;
}

export interface LineBalance {
  /** Effective limit (base + rollover + top-ups). */
  limitNano: Nano;
  spentNano: Nano;
  reservedNano: Nano;
}

export interface ReserveRequest {
  reservationId: string;
  lines: LineSpec[];
  /** Cost of the prompt (and anything else not scaled by the output cap), pico-USD (not rounded). */
  fixedPico: number;
  /** Output price, pico-USD per token. */
  outputPico: number;
  /** Output cap the request asks for (or the gateway chose); 0 for embeddings. */
  requestedCap: number;
  /** Lowest cap fit-to-budget may grant; equal to requestedCap when the cap must not be lowered. */
  minCap: number;
  /**
   * Lower the cap only with money nobody else holds (issue #17, "fair at the edge"): when the
   * requested cap does not fit and other reservations or waiters ahead hold money on a line, that
   * line answers busy (the request waits for them) instead of granting a lower cap from what is
   * free. The admission sets it for a metered request that may still wait; its last attempt, past
   * the wait, takes what is free.
   */
  lowerOnlyWhenAlone?: boolean;
  /** Current time (ms since epoch) as the gateway sees it; leases and reaping use it. */
  nowMs: number;
  /** When this reservation's lease expires; past it any instance settles it at its reserved amount. */
  leaseExpiresAtMs: number;
  /**
   * Wait for others' money (issue #17): when the answer is busy and this is past nowMs, the id is
   * queued (first come, first served) on every line that answered busy until this time, needing
   * the min cap's amount; a retry with the same id keeps its place. Absent: never queued.
   */
  waitUntilMs?: number;
  /** Rate and concurrency limits checked and applied in the same atomic step (src/limits/). */
  limits?: LimitSpec[];
  /** The request's tokens for tokens-per-minute limits; absent: prompt 0, one token per cap unit. */
  limitAsk?: LimitAsk;
  /**
   * A metered request's next slice, in cap units: once reserved, it is queued at the head of its
   * lines' wait queues until its lease expiry, owed that slice's amount, so requests admitted after
   * it leave room for the answer being relayed (ExtendRequest.holdUntilMs renews or ends the hold).
   * Absent or 0: nothing held.
   */
  holdCap?: number;
}

export type ReserveResult =
  | {
      status: 'reserved';
      /** The cap granted: requestedCap, or lower (but >= minCap) when a line could not afford it. */
      grantedCap: number;
      /** Nano-USD reserved on every line: ceil((fixedPico + grantedCap * outputPico) / 1000). */
      amountNano: Nano;
      /** Balances after the reservation, one per line, in request order. */
      balances: LineBalance[];
      /** Expired reservations this call settled (lease reaping). */
      expiredSettled: number;
      /** Use of each of the request's limits after the reservation, in request order. */
      limitUses?: LimitUse[];
    }
  | ({
      status: 'limited';
      balances: LineBalance[];
      expiredSettled: number;
      limitUses: LimitUse[];
    } & LimitRefusal)
  | {
      /**
       * rejected: exhausted (even if everything in flight settled at zero, the min cap would not
       * fit); busy: it fits once requests in flight settle (or waiters ahead are served); downgrade:
       * a line's threshold is reached. The first rejected line wins over any busy one.
       */
      status: 'rejected' | 'busy' | 'downgrade';
      /** Index of the first line that rejected (or was busy, or asked for a downgrade). */
      lineIndex: number;
      balances: LineBalance[];
      expiredSettled: number;
    };

/** Grow a held reservation (metered streams), and renew its lease. */
export interface ExtendRequest {
  reservationId: string;
  /** Output tokens to add to the cap (same per-sequence units as requestedCap); 0 = lease renewal only. */
  addCap: number;
  /** Fewest tokens worth adding (<= addCap): below it the extension is refused (busy or rejected). */
  minAddCap: number;
  nowMs: number;
  /** The lease's new expiry (heartbeat), also when the extension itself is refused. */
  leaseExpiresAtMs: number;
  /**
   * Tokens per unit of cap on the reservation's tokens_per_minute limits (its output multiplier):
   * an extension grows the tokens it holds there by the tokens added x this, never refused by a
   * limit (the answer is already being relayed); absent or 0: the limits' tokens are left alone.
   */
  tokensPerCap?: number;
  /**
   * When busy, hold the least addition until then (ms): the reservation is queued at the head of
   * each of its lines' wait queues, owed that amount, so money coming back goes to the answer being
   * relayed before a new request takes it. Any other answer, and the settle, end the hold.
   * Absent or 0: no hold (a busy answer also ends one).
   */
  holdUntilMs?: number;
  /**
   * With holdUntilMs, once extended: the next slice (cap units) held the same way, owed its amount
   * (ReserveRequest.holdCap); absent or 0: an extension ends the hold.
   */
  nextHoldCap?: number;
}

export type ExtendResult =
  | {
      status: 'extended';
      /** Tokens added: addCap, or fewer (>= minAddCap) in a budget's last few per cent. */
      grantedAddCap: number;
      /** Total cap now held. */
      cap: number;
      /** Total now reserved on every line: amount_for(fixed, output, cap). */
      amountNano: Nano;
      /** Balances after the extension, one per line of the reservation. */
      balances: LineBalance[];
    }
  /** Nothing changed on any line (the lease was renewed): lineIndex is the first line that refused. */
  | { status: 'busy' | 'rejected'; lineIndex: number; balances: LineBalance[] }
  /** The reservation is gone (settled, released, reaped). */
  | { status: 'unknown' };

export type SettleResult =
  | {
      status: 'settled';
      /** Balances after settling, one per line of the reservation, in reservation order. */
      balances: LineBalance[];
      /** Spent on each line before this settle (for threshold crossing detection). */
      spentBeforeNano: Nano[];
    }
  /** Already settled, released or reaped: nothing changed (settling is idempotent). */
  | { status: 'unknown' };

export interface BudgetStore {
  readonly kind: 'sqlite' | 'redis';
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /**
   * Replaces the reservation by the actual cost on every line it holds, and its tokens on its limits
   * by `actualTokens` (absent: as reserved); frees its concurrency slots. Idempotent by reservation id.
   */
  settle(reservationId: string, actualNano: Nano, actualTokens?: number): Promise<SettleResult>;
  /** Drops the reservation without spending (the provider produced nothing). Idempotent. */
  release(reservationId: string): Promise<SettleResult>;
  /**
   * Grows a reservation on every line it holds or on none (same rule as reserve, applied to the
   * increment, without counting waiters), and renews its lease. One round trip; addCap 0 only
   * renews the lease.
   */
  extend(request: ExtendRequest): Promise<ExtendResult>;
  /** Takes a reservation id out of the wait queues of these lines (its wait ran out). Idempotent. */
  abandonWait(reservationId: string, lines: LineSpec[]): Promise<void>;
  /**
   * Calls `listener` with the keys (`${instance}|${period}`) of lines whose money came back
   * (settle, release, reaping, a waiter leaving) while someone waits on them. An empty array means
   * "anything may have changed" (the Redis subscriber (re)connected and may have missed messages).
   * Returns the unsubscribe function.
   */
  onFreed(listener: (lineKeys: string[]) => void): () => void;
  /** Balances as they stand, without writing (a period's rollover is computed, not stored). */
  balances(lines: LineSpec[]): Promise<LineBalance[]>;
  /**
   * The heartbeat (src/budget/leases.ts): sets the lease of every reservation in `ids` to
   * `leaseExpiresAtMs` in one round trip, and returns the ids that are gone (settled, released or
   * reaped; gone ones are never brought back). An expired lease not yet reaped is renewed.
   */
  renewLeases(ids: string[], nowMs: number, leaseExpiresAtMs: number): Promise<string[]>;
  /** Settles every reservation whose lease expired at their reserved amount; returns how many. */
  reapExpired(nowMs: number): Promise<number>;
  /** Adds to a line's effective limit (prepaid top-ups, or an admin raise for this period). */
  topUp(line: LineSpec, amountNano: Nano): Promise<LineBalance>;
  /** Sets a line's spent to zero and drops its top-ups and rollover; reservations in flight stay. */
  reset(line: LineSpec): Promise<LineBalance>;
  /**
   * True for exactly one caller per (instance, period, name) until `ttlSeconds` (0: never) past
   * `nowMs`, the gateway's clock: who fires a once-per-period alert.
   */
  claimOnce(
    instance: string,
    period: string,
    name: string,
    ttlSeconds: number,
    nowMs: number,
  ): Promise<boolean>;
  /** Template ("*") instances of a budget seen in a period, for summaries and top spenders. */
  instances(budgetId: string, period: string): Promise<string[]>;
  /** Current use of limit instances, without writing (admin API, headers of previews). */
  limitUses(limits: LimitSpec[], nowMs: number): Promise<LimitUse[]>;
  /** Reachability, for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Start-up, before the first request ([hardening] 14): Redis adopts the deployment epoch (creates
   * it on a fresh deployment) and checks persistence and clock; SQLite has nothing to do. Returns
   * warnings for the log (e.g. Redis without AOF).
   */
  prepare(): Promise<string[]>;
  /** Set while the store came back empty (a reset was detected): every budget operation fails closed. */
  resetState(): StoreReset | undefined;
  /**
   * The operator's answer to a reset (POST /admin/store/recover): a new epoch; counters start from
   * what the store holds now. SQLite: nothing to recover (its file has no epoch).
   */
  recover(): Promise<{ status: 'recovered' | 'not_reset' | 'not_needed'; epoch?: string }>;
  /**
   * Milliseconds to add to this machine's clock to read the store's ([hardening] 14.3): Redis's
   * TIME minus Date.now(), once past 100 ms (below it, 0: measurement noise); SQLite 0.
   */
  clockOffsetMs(): number;
  /** Store-level events (reset detected, recovered, lost settles, drift, skew) for logs and metrics. */
  onStoreEvent(listener: (event: StoreEvent) => void): () => void;
}

/** Why the store fails closed, since when (the gateway's clock). */
export interface StoreReset {
  sinceMs: number;
  reason: string;
}

export type StoreEvent =
  | { type: 'reset'; reason: string }
  | { type: 'recovered'; epoch: string; resetSinceMs: number }
  /** A settle of a reservation made before the reset: its cost is in no budget (the store lost it). */
  | { type: 'settle_lost'; reservationId: string; reservedNano: Nano; actualNano: Nano }
  /**
   * This instance's limit for a budget line differs from the one the instances agreed on (their
   * configs differ): the smallest recent one was used ([hardening] 14.2).
   */
  | { type: 'limit_drift'; budgetId: string; sentNano: Nano }
  /** The store's clock minus this machine's, as last measured. */
  | { type: 'clock_skew'; skewMs: number; followed: boolean };

/** Thrown by a store when it cannot answer within its timeout or is down. */
export class StoreUnavailableError extends Error {
  /**
   * The operation was sent and may still be applied (the answer did not come in time): a reserve
   * may land after the caller gave up, so the caller releases its id once the store answers again.
   */
  readonly maybeApplied: boolean;

  constructor(message: string, options?: { cause?: unknown; maybeApplied?: boolean }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.maybeApplied = options?.maybeApplied ?? false;
  }
}

/**
 * The store lost its data (Redis came back empty, or another instance found it so): every budget
 * operation is refused, whatever `on_unavailable` says, until an operator recovers
 * (docs/operations.md). A StoreUnavailableError, so paths that only know outages still answer 503.
 */
export class StoreResetError extends StoreUnavailableError {
  readonly reset: StoreReset;

  constructor(reset: StoreReset) {
    super(`the budget store was reset (${reset.reason}); refusing until an operator recovers it`);
    this.name = 'StoreResetError';
    this.reset = reset;
  }
}
