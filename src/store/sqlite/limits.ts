/**
 * Rate and concurrency limits in the SQLite store, run inside the budget store's reserve and settle
 * transactions (sqlite/budget.ts), so a request passes its budgets and its limits or moves nothing.
 * The decision is src/limits/decision.ts; this file only reads and writes its counters.
 *
 * Tables: limit_buckets (instance, bucket) -> requests, tokens; limit_slots instance -> in flight;
 * limit_holds (reservation, instance) -> the bucket and tokens it reserved, so a settle (or the
 * lease reaper, for a process that died) corrects the tokens and frees the slot exactly once.
 */
import type Database from 'better-sqlite3';
import { amountFor } from '../../budget/reserve-decision.js';
import {
  type Bucket,
  bucketOf,
  decideLimits,
  isLive,
  reservedTokens,
  useOf,
  WINDOW_BUCKETS,
  type WindowState,
} from '../../limits/decision.js';
import type { LimitAsk, LimitRefusal, LimitSpec, LimitUse } from '../../limits/types.js';
import type { Nano } from '../../money.js';
import type { ReserveRequest } from '../types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS limit_buckets (
  instance TEXT NOT NULL,
  bucket   INTEGER NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  tokens   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instance, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS limit_slots (
  instance  TEXT PRIMARY KEY,
  in_flight INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS limit_holds (
  reservation_id TEXT NOT NULL,
  instance TEXT NOT NULL,
  bucket   INTEGER NOT NULL,
  tokens   INTEGER NOT NULL,
  PRIMARY KEY (reservation_id, instance)
) WITHOUT ROWID;
`;

/** A request without a tokens estimate counts one token per unit of output cap. */
const DEFAULT_ASK: LimitAsk = { promptTokens: 0, tokensPerCap: 1 };

export type LimitCheck =
  | { status: 'ok'; grantedCap: number; amountNano: Nano }
  | ({ status: 'limited'; limitUses: LimitUse[] } & LimitRefusal);

interface HoldRow {
  instance: string;
  bucket: number;
  tokens: number;
}

export class SqliteLimits {
  private readonly stmt;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.stmt = {
      buckets: db.prepare<[string, number], { bucket: number; requests: number; tokens: number }>(
        'SELECT bucket, requests, tokens FROM limit_buckets WHERE instance = ? AND bucket > ? ORDER BY bucket',
      ),
      prune: db.prepare<[string, number]>('DELETE FROM limit_buckets WHERE instance = ? AND bucket <= ?'),
      inFlight: db.prepare<[string], number>('SELECT in_flight FROM limit_slots WHERE instance = ?').pluck(),
      count: db.prepare<[string, number, number, number]>(
        `INSERT INTO limit_buckets (instance, bucket, requests, tokens) VALUES (?, ?, ?, ?)
         ON CONFLICT (instance, bucket) DO UPDATE SET requests = requests + excluded.requests, tokens = tokens + excluded.tokens`,
      ),
      take: db.prepare<[string]>(
        `INSERT INTO limit_slots (instance, in_flight) VALUES (?, 1)
         ON CONFLICT (instance) DO UPDATE SET in_flight = in_flight + 1`,
      ),
      free: db.prepare<[string]>(
        'UPDATE limit_slots SET in_flight = MAX(0, in_flight - 1) WHERE instance = ?',
      ),
      correct: db.prepare<[number, string, number]>(
        'UPDATE limit_buckets SET tokens = MAX(0, tokens + ?) WHERE instance = ? AND bucket = ?',
      ),
      hold: db.prepare<[string, string, number, number]>(
        'INSERT OR IGNORE INTO limit_holds (reservation_id, instance, bucket, tokens) VALUES (?, ?, ?, ?)',
      ),
      holds: db.prepare<[string], HoldRow>(
        'SELECT instance, bucket, tokens FROM limit_holds WHERE reservation_id = ?',
      ),
      dropHolds: db.prepare<[string]>('DELETE FROM limit_holds WHERE reservation_id = ?'),
      growHold: db.prepare<[number, string, string]>(
        'UPDATE limit_holds SET tokens = tokens + ? WHERE reservation_id = ? AND instance = ?',
      ),
    };
  }

  /** The limits' windows as they stand (only live buckets). */
  states(limits: readonly LimitSpec[], nowMs: number): WindowState[] {
    const oldest = bucketOf(nowMs) - WINDOW_BUCKETS;
    return limits.map((spec) => ({
      inFlight: this.stmt.inFlight.get(spec.instance) ?? 0,
      buckets: this.stmt.buckets
        .all(spec.instance, oldest)
        .map((r): Bucket => [r.bucket, r.requests, r.tokens])
        .filter((b) => isLive(b[0], nowMs)),
    }));
  }

  uses(limits: readonly LimitSpec[], nowMs: number): LimitUse[] {
    return this.states(limits, nowMs).map((s) => useOf(s, nowMs));
  }

  /** Pass 1, after the budget lines agreed on `grantedCap`: may lower the cap, or refuse. */
  check(req: ReserveRequest, grantedCap: number, amountNano: Nano): LimitCheck {
    const limits = req.limits ?? [];
    if (limits.length === 0) return { status: 'ok', grantedCap, amountNano };
    const states = this.states(limits, req.nowMs);
    const d = decideLimits(limits, states, req.limitAsk ?? DEFAULT_ASK, grantedCap, req.minCap, req.nowMs);
    if (d.status === 'limited') return { ...d, limitUses: states.map((s) => useOf(s, req.nowMs)) };
    if (d.grantedCap === grantedCap) return { status: 'ok', grantedCap, amountNano };
    return {
      status: 'ok',
      grantedCap: d.grantedCap,
      amountNano: amountFor(req.fixedPico, req.outputPico, d.grantedCap),
    };
  }

  /** Pass 2: counts the request, takes its slots and holds its tokens; returns the uses after. */
  apply(req: ReserveRequest, grantedCap: number): LimitUse[] | undefined {
    const limits = req.limits ?? [];
    if (limits.length === 0) return undefined;
    const bucket = bucketOf(req.nowMs);
    const tokens = reservedTokens(req.limitAsk ?? DEFAULT_ASK, grantedCap);
    for (const spec of limits) {
      this.stmt.prune.run(spec.instance, bucket - WINDOW_BUCKETS);
      this.stmt.count.run(spec.instance, bucket, spec.counted ? 0 : 1, tokens);
      this.stmt.take.run(spec.instance);
      this.stmt.hold.run(req.reservationId, spec.instance, bucket, tokens);
    }
    return this.uses(limits, req.nowMs);
  }

  /**
   * A metered extension: the reservation's tokens grow by `tokens` on every limit it holds (in the
   * second it was admitted, where its settle corrects them). Not checked: the answer is relayed.
   */
  grow(reservationId: string, tokens: number): void {
    if (tokens <= 0) return;
    for (const hold of this.stmt.holds.all(reservationId)) {
      this.stmt.correct.run(tokens, hold.instance, hold.bucket);
      this.stmt.growHold.run(tokens, reservationId, hold.instance);
    }
  }

  /** Settles a reservation's holds: tokens to `actualTokens` (null: as reserved), slots freed. */
  settle(reservationId: string, actualTokens: number | null): void {
    for (const hold of this.stmt.holds.all(reservationId)) {
      if (actualTokens !== null && actualTokens !== hold.tokens)
        this.stmt.correct.run(actualTokens - hold.tokens, hold.instance, hold.bucket);
      this.stmt.free.run(hold.instance);
    }
    this.stmt.dropHolds.run(reservationId);
  }
}
