/**
 * The embedded budget store: better-sqlite3 in WAL mode. Every operation is one BEGIN IMMEDIATE
 * transaction, so the write lock is taken up front and check-then-apply can never interleave, also
 * across processes sharing the file (they wait up to `timeoutMs` for the lock via busy_timeout).
 */
import type Database from 'better-sqlite3';
import { decideReserve } from '../../budget/reserve-decision.js';
import type { LimitSpec, LimitUse } from '../../limits/types.js';
import type { Nano } from '../../money.js';
import { balanceOf, carriedRollover, type LineCounters } from '../line-counters.js';
import type {
  BudgetStore,
  LineBalance,
  LineSpec,
  ReserveRequest,
  ReserveResult,
  SettleResult,
} from '../types.js';
import { openDatabase, transactionRunner } from './db.js';
import { SqliteLimits } from './limits.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. Parent directories are created. */
  path: string;
  /** How long an operation waits for the write lock held by another process; default 2000 ms. */
  timeoutMs?: number;
}

/** Lease reaping done at the start of each reserve, so one call's latency stays bounded. */
const REAP_ON_RESERVE = 16;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_lines (
  instance TEXT NOT NULL,
  period   TEXT NOT NULL,
  spent    INTEGER NOT NULL DEFAULT 0,
  reserved INTEGER NOT NULL DEFAULT 0,
  rollover INTEGER NOT NULL DEFAULT 0,
  topup    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instance, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_reservations (
  id          TEXT PRIMARY KEY,
  amount      INTEGER NOT NULL,
  granted_cap INTEGER NOT NULL,
  lease_expires_at INTEGER NOT NULL,
  lines       TEXT NOT NULL  -- JSON [[instance, period, baseLimitNano], ...]
);
CREATE INDEX IF NOT EXISTS budget_reservations_lease ON budget_reservations (lease_expires_at);
CREATE TABLE IF NOT EXISTS budget_instances (
  budget_id TEXT NOT NULL,
  period    TEXT NOT NULL,
  instance  TEXT NOT NULL,
  PRIMARY KEY (budget_id, period, instance)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budget_claims (
  instance TEXT NOT NULL,
  period   TEXT NOT NULL,
  name     TEXT NOT NULL,
  expires_at INTEGER,          -- ms since epoch; NULL = never
  PRIMARY KEY (instance, period, name)
) WITHOUT ROWID;
`;

type ReservationLine = [instance: string, period: string, baseLimitNano: Nano];

interface ReservationRow {
  id: string;
  amount: number;
  granted_cap: number;
  lines: string;
}

export class SqliteStore implements BudgetStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmt;
  /** One transaction runner, reused: lock waits past busy_timeout surface as StoreUnavailableError. */
  private readonly tx: ReturnType<typeof transactionRunner>;
  private readonly limits: SqliteLimits;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.path, options.timeoutMs);
    this.db.exec(SCHEMA);
    this.tx = transactionRunner(this.db);
    this.limits = new SqliteLimits(this.db);
    this.stmt = {
      getLine: this.db.prepare<[string, string], LineCounters>(
        'SELECT spent, reserved, rollover, topup FROM budget_lines WHERE instance = ? AND period = ?',
      ),
      insertLine: this.db.prepare<[string, string, number]>(
        'INSERT INTO budget_lines (instance, period, rollover) VALUES (?, ?, ?)',
      ),
      addReserved: this.db.prepare<[number, string, string]>(
        'UPDATE budget_lines SET reserved = reserved + ? WHERE instance = ? AND period = ?',
      ),
      settleLine: this.db.prepare<[number, number, string, string]>(
        'UPDATE budget_lines SET reserved = reserved - ?, spent = spent + ? WHERE instance = ? AND period = ?',
      ),
      addTopup: this.db.prepare<[number, string, string]>(
        'UPDATE budget_lines SET topup = topup + ? WHERE instance = ? AND period = ?',
      ),
      resetLine: this.db.prepare<[string, string]>(
        'UPDATE budget_lines SET spent = 0, rollover = 0, topup = 0 WHERE instance = ? AND period = ?',
      ),
      getReservation: this.db.prepare<[string], ReservationRow>(
        'SELECT id, amount, granted_cap, lines FROM budget_reservations WHERE id = ?',
      ),
      insertReservation: this.db.prepare<[string, number, number, number, string]>(
        'INSERT INTO budget_reservations (id, amount, granted_cap, lease_expires_at, lines) VALUES (?, ?, ?, ?, ?)',
      ),
      deleteReservation: this.db.prepare<[string]>('DELETE FROM budget_reservations WHERE id = ?'),
      expired: this.db.prepare<[number, number], ReservationRow>(
        'SELECT id, amount, granted_cap, lines FROM budget_reservations WHERE lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?',
      ),
      addInstance: this.db.prepare<[string, string, string]>(
        'INSERT OR IGNORE INTO budget_instances (budget_id, period, instance) VALUES (?, ?, ?)',
      ),
      listInstances: this.db
        .prepare<[string, string], string>(
          'SELECT instance FROM budget_instances WHERE budget_id = ? AND period = ? ORDER BY instance',
        )
        .pluck(),
      claim: this.db.prepare<[string, string, string, number | null, number]>(
        `INSERT INTO budget_claims (instance, period, name, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (instance, period, name) DO UPDATE SET expires_at = excluded.expires_at
         WHERE budget_claims.expires_at IS NOT NULL AND budget_claims.expires_at <= ?`,
      ),
    };
  }

  reserve(request: ReserveRequest): Promise<ReserveResult> {
    return this.run(() => this.reserveTx(request));
  }

  settle(reservationId: string, actualNano: Nano, actualTokens?: number): Promise<SettleResult> {
    return this.run(() => this.settleTx(reservationId, actualNano, actualTokens ?? null));
  }

  release(reservationId: string): Promise<SettleResult> {
    return this.run(() => this.settleTx(reservationId, 0, 0));
  }

  limitUses(limits: LimitSpec[], nowMs: number): Promise<LimitUse[]> {
    return this.run(() => this.limits.uses(limits, nowMs), 'deferred');
  }

  balances(lines: LineSpec[]): Promise<LineBalance[]> {
    // A read needs no write lock; WAL readers see one consistent snapshot per statement set.
    return this.run(() => lines.map((spec) => balanceOf(spec.limitNano, this.peek(spec))), 'deferred');
  }

  reapExpired(nowMs: number): Promise<number> {
    return this.run(() => this.reap(nowMs, Number.MAX_SAFE_INTEGER));
  }

  topUp(line: LineSpec, amountNano: Nano): Promise<LineBalance> {
    return this.run(() => {
      this.touch(line);
      this.stmt.addTopup.run(amountNano, line.instance, line.period);
      return balanceOf(line.limitNano, this.read(line.instance, line.period));
    });
  }

  reset(line: LineSpec): Promise<LineBalance> {
    return this.run(() => {
      this.touch(line);
      this.stmt.resetLine.run(line.instance, line.period);
      return balanceOf(line.limitNano, this.read(line.instance, line.period));
    });
  }

  claimOnce(
    instance: string,
    period: string,
    name: string,
    ttlSeconds: number,
    nowMs: number,
  ): Promise<boolean> {
    return this.run(() => {
      const expiresAt = ttlSeconds > 0 ? nowMs + ttlSeconds * 1000 : null;
      return this.stmt.claim.run(instance, period, name, expiresAt, nowMs).changes === 1;
    });
  }

  instances(budgetId: string, period: string): Promise<string[]> {
    return this.run(() => this.stmt.listInstances.all(budgetId, period), 'deferred');
  }

  async ping(): Promise<boolean> {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private reserveTx(req: ReserveRequest): ReserveResult {
    const expiredSettled = this.reap(req.nowMs, REAP_ON_RESERVE);
    // Every line is touched (created, rollover fixed) even when the answer is a rejection.
    const counters = req.lines.map((spec) => this.touch(spec));
    const balances = () => req.lines.map((spec, i) => balanceOf(spec.limitNano, counters[i]!));

    const existing = this.stmt.getReservation.get(req.reservationId);
    if (existing) {
      return {
        status: 'reserved',
        grantedCap: existing.granted_cap,
        amountNano: existing.amount,
        balances: balances(),
        expiredSettled,
      };
    }

    const decision = decideReserve(req.lines, balances(), req);
    if (decision.status !== 'reserved') return { ...decision, balances: balances(), expiredSettled };
    const limited = this.limits.check(req, decision.grantedCap, decision.amountNano);
    if (limited.status === 'limited') return { ...limited, balances: balances(), expiredSettled };
    const { grantedCap, amountNano: amount } = limited;

    // Every line agreed: apply the same amount on all of them.
    const stored: ReservationLine[] = [];
    for (let i = 0; i < req.lines.length; i++) {
      const spec = req.lines[i]!;
      this.stmt.addReserved.run(amount, spec.instance, spec.period);
      counters[i]!.reserved += amount;
      stored.push([spec.instance, spec.period, spec.limitNano]);
      if (spec.instance !== spec.budgetId)
        this.stmt.addInstance.run(spec.budgetId, spec.period, spec.instance);
    }
    this.stmt.insertReservation.run(
      req.reservationId,
      amount,
      grantedCap,
      req.leaseExpiresAtMs,
      JSON.stringify(stored),
    );
    const limitUses = this.limits.apply(req, grantedCap);
    return {
      status: 'reserved',
      grantedCap,
      amountNano: amount,
      balances: balances(),
      expiredSettled,
      ...(limitUses ? { limitUses } : {}),
    };
  }

  private settleTx(
    reservationId: string,
    actualNano: Nano | null,
    actualTokens: number | null,
  ): SettleResult {
    const row = this.stmt.getReservation.get(reservationId);
    if (!row) return { status: 'unknown' };
    return this.settleRow(row, actualNano, actualTokens);
  }

  /** Settles one reservation; `actual` (`tokens`) null means as reserved (an expired lease). */
  private settleRow(
    row: ReservationRow,
    actual: Nano | null,
    tokens: number | null = null,
  ): SettleResult & { status: 'settled' } {
    this.limits.settle(row.id, tokens);
    const lines = JSON.parse(row.lines) as ReservationLine[];
    const spent = actual ?? row.amount;
    const balances: LineBalance[] = [];
    const spentBeforeNano: Nano[] = [];
    for (const [instance, period, limit] of lines) {
      const before = this.stmt.getLine.get(instance, period);
      if (!before) {
        // The line was dropped under the reservation (not done today): nothing left to correct.
        spentBeforeNano.push(0);
        balances.push(balanceOf(limit, { spent: 0, reserved: 0, rollover: 0, topup: 0 }));
        continue;
      }
      this.stmt.settleLine.run(row.amount, spent, instance, period);
      spentBeforeNano.push(before.spent);
      balances.push(
        balanceOf(limit, { ...before, reserved: before.reserved - row.amount, spent: before.spent + spent }),
      );
    }
    this.stmt.deleteReservation.run(row.id);
    return { status: 'settled', balances, spentBeforeNano };
  }

  private reap(nowMs: number, limit: number): number {
    const rows = this.stmt.expired.all(nowMs, limit);
    for (const row of rows) this.settleRow(row, null);
    return rows.length;
  }

  /** The line's counters, creating the row (with its rollover) on the period's first touch. */
  private touch(spec: LineSpec): LineCounters {
    const row = this.stmt.getLine.get(spec.instance, spec.period);
    if (row) return row;
    const rollover = this.rolloverFor(spec);
    this.stmt.insertLine.run(spec.instance, spec.period, rollover);
    return { spent: 0, reserved: 0, rollover, topup: 0 };
  }

  /** Like touch, without writing: an untouched period shows the rollover it would get now. */
  private peek(spec: LineSpec): LineCounters {
    return (
      this.stmt.getLine.get(spec.instance, spec.period) ?? {
        spent: 0,
        reserved: 0,
        rollover: this.rolloverFor(spec),
        topup: 0,
      }
    );
  }

  private rolloverFor(spec: LineSpec): Nano {
    if (spec.previousPeriod === null || spec.rolloverMaxNano <= 0) return 0;
    return carriedRollover(spec, this.stmt.getLine.get(spec.instance, spec.previousPeriod));
  }

  private read(instance: string, period: string): LineCounters {
    return this.stmt.getLine.get(instance, period) ?? { spent: 0, reserved: 0, rollover: 0, topup: 0 };
  }

  private async run<T>(fn: () => T, mode: 'immediate' | 'deferred' = 'immediate'): Promise<T> {
    return this.tx(fn, mode);
  }
}
