/**
 * The embedded budget store: better-sqlite3 in WAL mode. Every operation is one BEGIN IMMEDIATE
 * transaction, so the write lock is taken up front and check-then-apply can never interleave, also
 * across processes sharing the file (they wait up to `timeoutMs` for the lock via busy_timeout).
 * Wait queues live in waits.ts; lines freed while someone waits are told to this process's
 * listeners once the transaction has committed (docs/stores-waiting.md).
 */
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { amountFor, BUSY, decideExtend, decideLines } from '../../budget/reserve-decision.js';
import type { LimitSpec, LimitUse } from '../../limits/types.js';
import type { Nano } from '../../money.js';
import { balanceOf, carriedRollover, type LineCounters } from '../line-counters.js';
import type {
  BudgetStore,
  ExtendRequest,
  ExtendResult,
  LineBalance,
  LineSpec,
  ReserveRequest,
  ReserveResult,
  SettleResult,
} from '../types.js';
import { migrate, RESERVATION_COLUMNS, SCHEMA } from './budget-schema.js';
import { openDatabase, transactionRunner } from './db.js';
import { SqliteLimits } from './limits.js';
import { emitFreed, freedListeners, lineKeyOf, SqliteWaits } from './waits.js';

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. Parent directories are created. */
  path: string;
  /** How long an operation waits for the write lock held by another process; default 2000 ms. */
  timeoutMs?: number;
}

/** Lease reaping done at the start of each reserve, so one call's latency stays bounded. */
const REAP_ON_RESERVE = 16;

type ReservationLine = [instance: string, period: string, baseLimitNano: Nano];

interface ReservationRow {
  id: string;
  amount: number;
  /** The cap held now: the granted one, grown by extensions. */
  granted_cap: number;
  fixed_pico: number;
  output_pico: number;
  lines: string;
}

export class SqliteStore implements BudgetStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmt;
  /** One transaction runner, reused: lock waits past busy_timeout surface as StoreUnavailableError. */
  private readonly tx: ReturnType<typeof transactionRunner>;
  private readonly waits: SqliteWaits;
  private readonly listeners: Set<(lineKeys: string[]) => void>;
  /** Keys of lines freed (with someone waiting) by the transaction running now; told after commit. */
  private freed = new Set<string>();
  /** This store's own listeners in the per-file set, dropped on close. */
  private readonly own = new Set<(lineKeys: string[]) => void>();
  private readonly limits: SqliteLimits;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.path, options.timeoutMs);
    this.db.exec(SCHEMA);
    migrate(this.db);
    this.waits = new SqliteWaits(this.db);
    this.listeners = freedListeners(options.path === ':memory:' ? ':memory:' : resolve(options.path));
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
        `SELECT ${RESERVATION_COLUMNS} FROM budget_reservations WHERE id = ?`,
      ),
      insertReservation: this.db.prepare<[string, number, number, number, number, number, string]>(
        `INSERT INTO budget_reservations (id, amount, granted_cap, fixed_pico, output_pico, lease_expires_at, lines)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      renewLease: this.db.prepare<[number, string]>(
        'UPDATE budget_reservations SET lease_expires_at = ? WHERE id = ?',
      ),
      grow: this.db.prepare<[number, number, string]>(
        'UPDATE budget_reservations SET amount = ?, granted_cap = ? WHERE id = ?',
      ),
      deleteReservation: this.db.prepare<[string]>('DELETE FROM budget_reservations WHERE id = ?'),
      expired: this.db.prepare<[number, number], ReservationRow>(
        `SELECT ${RESERVATION_COLUMNS} FROM budget_reservations WHERE lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`,
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

  extend(request: ExtendRequest): Promise<ExtendResult> {
    return this.run(() => this.extendTx(request));
  }

  abandonWait(reservationId: string, _lines: LineSpec[]): Promise<void> {
    // The queue rows are found by id (indexed), whichever lines they are on.
    return this.run(() => {
      for (const key of this.waits.removeEverywhere(reservationId)) this.freed.add(key);
    });
  }

  onFreed(listener: (lineKeys: string[]) => void): () => void {
    // Wrapped, so the same function registered twice (or on two stores) unsubscribes once each.
    const entry = (keys: string[]) => listener(keys);
    this.listeners.add(entry);
    this.own.add(entry);
    return () => {
      this.listeners.delete(entry);
      this.own.delete(entry);
    };
  }

  balances(lines: LineSpec[]): Promise<LineBalance[]> {
    // A read needs no write lock; WAL readers see one consistent snapshot per statement set.
    return this.run(() => lines.map((spec) => balanceOf(spec.limitNano, this.peek(spec))), 'deferred');
  }

  renewLeases(ids: string[], _nowMs: number, leaseExpiresAtMs: number): Promise<string[]> {
    if (ids.length === 0) return Promise.resolve([]);
    // One transaction for the batch: one write lock, one fsync, whatever the count.
    return this.run(() => ids.filter((id) => this.stmt.renewLease.run(leaseExpiresAtMs, id).changes === 0));
  }

  reapExpired(nowMs: number): Promise<number> {
    return this.run(() => {
      // Waits that ran out on lines nobody has looked at since: the only unbounded prune.
      this.waits.pruneExpired(nowMs);
      return this.reap(nowMs, Number.MAX_SAFE_INTEGER);
    });
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

  /**
   * A SQLite file has no epoch to lose: a deleted or replaced file is a new store the operator
   * chose, and the processes sharing it share one machine clock (docs/stores.md).
   */
  async prepare(): Promise<string[]> {
    return [];
  }

  resetState(): undefined {
    return undefined;
  }

  async recover(): Promise<{ status: 'not_needed' }> {
    return { status: 'not_needed' };
  }

  /** Several processes on one SQLite file share one machine's clock: nothing to correct. */
  clockOffsetMs(): number {
    return 0;
  }

  onStoreEvent(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    for (const entry of this.own) this.listeners.delete(entry);
    this.own.clear();
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

    // Waiters queued ahead of this request on each line are owed their need first (FCFS).
    const pos = this.waits.position(req.reservationId);
    const owed = req.lines.map((spec) =>
      this.waits.owed(spec.instance, spec.period, req.reservationId, pos, req.nowMs),
    );
    const { decision, verdicts } = decideLines(req.lines, balances(), req, owed);
    // A rejected line answers first, then a limit, then a busy line (reserve.lua's order): a
    // rate-limited request does not queue for money. Whether a limit refuses does not depend on
    // the cap (a limit needs the min cap's tokens), so a busy request is judged at its requested cap.
    const check =
      decision.status === 'reserved'
        ? this.limits.check(req, decision.grantedCap, decision.amountNano)
        : decision.status === 'busy'
          ? this.limits.check(req, req.requestedCap, 0)
          : null;
    const limited = check?.status === 'limited' ? check : null;
    if (decision.status === 'busy' && !limited) {
      const until = req.waitUntilMs ?? 0;
      if (until > req.nowMs) {
        const need = amountFor(req.fixedPico, req.outputPico, req.minCap);
        req.lines.forEach((spec, i) => {
          if (verdicts[i] === BUSY)
            this.waits.enqueue(spec, req.reservationId, pos ?? req.nowMs, need, until);
        });
      }
    } else if (pos !== null && decision.status !== 'downgrade') {
      // Served or refused: it waits no more. Those behind a refused waiter may fit now.
      const left = this.waits.removeEverywhere(req.reservationId);
      if (decision.status === 'rejected' || limited) for (const key of left) this.freed.add(key);
    }
    if (limited) return { ...limited, balances: balances(), expiredSettled };
    if (decision.status !== 'reserved') return { ...decision, balances: balances(), expiredSettled };
    const { grantedCap, amountNano: amount } = check?.status === 'ok' ? check : decision;

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
      req.fixedPico,
      req.outputPico,
      req.leaseExpiresAtMs,
      JSON.stringify(stored),
    );
    const limitUses = this.limits.apply(req, grantedCap);
    if (req.holdCap && req.holdCap > 0 && grantedCap === req.requestedCap) {
      // The next slice, owed at the head of every line's queue (redis/lua/reserve.lua hold_cap);
      // a lowered grant is not metered (BudgetAdmission.granted), so it is owed nothing more.
      const need = amountFor(req.fixedPico, req.outputPico, grantedCap + req.holdCap) - amount;
      this.waits.hold(stored, req.reservationId, need, req.leaseExpiresAtMs);
    }
    return {
      status: 'reserved',
      grantedCap,
      amountNano: amount,
      balances: balances(),
      expiredSettled,
      ...(limitUses ? { limitUses } : {}),
    };
  }

  private extendTx(req: ExtendRequest): ExtendResult {
    const row = this.stmt.getReservation.get(req.reservationId);
    if (!row) return { status: 'unknown' };
    // The heartbeat: renewed whatever the answer, the stream is alive until it settles.
    this.stmt.renewLease.run(req.leaseExpiresAtMs, row.id);
    const lines = JSON.parse(row.lines) as ReservationLine[];
    // A line is judged at the base limit it was reserved under (an extension names no lines).
    const counters = lines.map(([instance, period]) => this.stmt.getLine.get(instance, period));
    const balances = () =>
      lines.map(([, , limit], i) =>
        balanceOf(limit, counters[i] ?? { spent: 0, reserved: 0, rollover: 0, topup: 0 }),
      );
    const held = {
      fixedPico: row.fixed_pico,
      outputPico: row.output_pico,
      cap: row.granted_cap,
      amountNano: row.amount,
    };
    const extended = (grantedAddCap: number, amountNano: Nano): ExtendResult => ({
      status: 'extended',
      grantedAddCap,
      cap: row.granted_cap + grantedAddCap,
      amountNano,
      balances: balances(),
    });
    if (req.addCap <= 0) return extended(0, row.amount);
    const decision = decideExtend(balances(), held, req.addCap, req.minAddCap);
    // Held at the head of every line's queue, owed an amount (redis/lua/extend.lua hold), or not.
    const hold = (needNano: Nano, untilMs: number) => this.waits.hold(lines, row.id, needNano, untilMs);
    const unhold = () => {
      for (const key of this.waits.removeEverywhere(row.id)) this.freed.add(key);
    };
    const holding = (req.holdUntilMs ?? 0) > req.nowMs;
    if (decision.status !== 'extended') {
      if (decision.status === 'busy' && holding)
        hold(
          amountFor(row.fixed_pico, row.output_pico, row.granted_cap + req.minAddCap) - row.amount,
          req.holdUntilMs ?? 0,
        );
      else unhold();
      return { ...decision, balances: balances() };
    }
    const cap = row.granted_cap + decision.grantedAddCap;
    // max: a row from before the price columns (price 0) never shrinks.
    const amount = Math.max(row.amount, amountFor(row.fixed_pico, row.output_pico, cap));
    const delta = amount - row.amount;
    lines.forEach(([instance, period], i) => {
      const c = counters[i];
      if (!c) return; // the line was dropped under the reservation (not done today)
      this.stmt.addReserved.run(delta, instance, period);
      c.reserved += delta;
    });
    this.stmt.grow.run(amount, cap, row.id);
    if (holding && (req.nextHoldCap ?? 0) > 0)
      hold(
        amountFor(row.fixed_pico, row.output_pico, cap + (req.nextHoldCap ?? 0)) - amount,
        req.leaseExpiresAtMs,
      );
    else unhold();
    if (req.tokensPerCap && req.tokensPerCap > 0)
      this.limits.grow(row.id, decision.grantedAddCap * req.tokensPerCap);
    return extended(decision.grantedAddCap, amount);
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
    this.waits.removeEverywhere(row.id); // an extension's hold ends with its reservation
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
      if (this.waits.hasWaiters(instance, period)) this.freed.add(lineKeyOf(instance, period));
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

  /** One transaction; the lines it freed are told to listeners once it has committed. */
  private async run<T>(fn: () => T, mode: 'immediate' | 'deferred' = 'immediate'): Promise<T> {
    this.freed = new Set();
    const result = this.tx(fn, mode);
    if (this.freed.size > 0) {
      const keys = [...this.freed];
      this.freed = new Set();
      emitFreed([...this.listeners], keys);
    }
    return result;
  }
}
