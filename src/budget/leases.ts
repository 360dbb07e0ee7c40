/**
 * The lease heartbeat (issue #14): a reservation's lease is short (budgeting.lease_ms, 15 s by
 * default), and every instance renews the leases of all its live reservations together, in one
 * store call per renewal interval (budgeting.lease_renew_ms). A live request on a healthy instance
 * is renewed well before its lease runs out (the config requires room for one failed renewal); a
 * SIGKILLed instance renews nothing, so its reservations are reaped one lease after its last
 * renewal and their money comes back within seconds, not after the request timeout.
 *
 * A reservation is held from its reserve until the store answered its settle or release (a settle
 * waiting in the retry queue keeps its lease alive), and at most request_timeout_ms +
 * lease_margin_ms: no request lives longer, so a hold past that is a leak and its lease is left to
 * run out ("overdue").
 *
 * When the store cannot be reached the renewals fail, and once a whole lease passed without one the
 * instance treats those reservations as possibly reaped (`mayHaveLapsed`). It keeps serving only
 * what they hold: a plain request's output cannot exceed its reserved cap, which is exactly what
 * reaping charges, and a metered stream grows only through the store, which answers "gone" for a
 * reaped reservation (the stream then ends as at its cap). A renewal that finds a reservation gone
 * marks it lost, so its stream stops asking for more without another round trip.
 */
import type { RuntimeConfig } from '../config/runtime.js';
import type { BudgetStore } from '../store/types.js';
import { safe } from './budget-alerts.js';
import type { EngineMetricsHooks, LeaseRenewalResult, RenewPass } from './engine-types.js';

/** Ids per store call: one Redis script or SQLite transaction stays short even for a busy instance. */
export const RENEW_BATCH = 1000;

export interface LeaseKeeperDeps {
  store: Pick<BudgetStore, 'renewLeases'>;
  config: () => RuntimeConfig;
  clock: () => number;
  metrics: Pick<EngineMetricsHooks, 'onLeaseRenewal'>;
}

interface Held {
  /** Renewals stop here (reserve time + request_timeout_ms + lease_margin_ms). */
  deadlineMs: number;
  /** The lease as last written to the store (by the reserve, a renewal or an extension). */
  expiresAtMs: number;
  /** A renewal found it gone: reaped (or settled elsewhere) while its request was alive here. */
  lost: boolean;
}

export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RenewPass> | undefined;
  private closed = false;

  constructor(private readonly deps: LeaseKeeperDeps) {}

  /** A reservation was made at `reservedAtMs` with a lease to `expiresAtMs`: keep it alive. */
  hold(reservationId: string, reservedAtMs: number, expiresAtMs: number): void {
    if (this.closed) return;
    const deadlineMs = reservedAtMs + this.deps.config().budgeting.maxHoldMs;
    this.held.set(reservationId, { deadlineMs, expiresAtMs, lost: false });
    this.schedule();
  }

  /** The store answered the reservation's settle or release: nothing left to renew. */
  drop(reservationId: string): void {
    this.held.delete(reservationId);
    if (this.held.size === 0) this.stop();
  }

  /** Another call (a metered extension) renewed this lease. */
  renewed(reservationId: string, expiresAtMs: number): void {
    const entry = this.held.get(reservationId);
    if (entry && expiresAtMs > entry.expiresAtMs) entry.expiresAtMs = expiresAtMs;
  }

  /** A renewal found the reservation gone from the store (reaped while its request lived here). */
  isLost(reservationId: string): boolean {
    return this.held.get(reservationId)?.lost === true;
  }

  /** Its lease ran out without a renewal reaching the store: another instance may have reaped it. */
  mayHaveLapsed(reservationId: string, nowMs: number): boolean {
    const entry = this.held.get(reservationId);
    return entry !== undefined && (entry.lost || entry.expiresAtMs <= nowMs);
  }

  /** Reservations held (renewed or not) by this instance. */
  get size(): number {
    return this.held.size;
  }

  /** One renewal pass now (the timer's, or a test's); concurrent calls share one pass. */
  renewNow(): Promise<RenewPass> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** Stops renewing; the leases still held run out and are reaped (by this store's other users). */
  close(): void {
    this.closed = true;
    this.stop();
    this.held.clear();
  }

  private async pass(): Promise<RenewPass> {
    const nowMs = this.deps.clock();
    const { leaseMs } = this.deps.config().budgeting;
    const out: RenewPass = { renewed: 0, gone: 0, failed: 0, lapsed: 0, overdue: 0 };
    const ids: string[] = [];
    for (const [id, entry] of this.held) {
      if (entry.lost) continue;
      if (entry.deadlineMs <= nowMs) {
        // Past any request's life: a settle that never came. Forget it and let reaping settle it.
        this.held.delete(id);
        out.overdue++;
        continue;
      }
      ids.push(id);
    }
    const expiresAtMs = nowMs + leaseMs;
    for (let i = 0; i < ids.length; i += RENEW_BATCH) {
      const batch = ids.slice(i, i + RENEW_BATCH);
      let gone: string[];
      try {
        gone = await this.deps.store.renewLeases(batch, nowMs, expiresAtMs);
      } catch {
        // Counted by the instrumented store too; the next pass tries again.
        for (const id of batch) {
          if (this.mayHaveLapsed(id, nowMs)) out.lapsed++;
          else out.failed++;
        }
        continue;
      }
      const goneSet = new Set(gone);
      for (const id of batch) {
        const entry = this.held.get(id);
        if (!entry) continue; // settled while the renewal was on its way
        if (goneSet.has(id)) {
          entry.lost = true;
          out.gone++;
        } else {
          if (expiresAtMs > entry.expiresAtMs) entry.expiresAtMs = expiresAtMs;
          out.renewed++;
        }
      }
    }
    this.report(out);
    return out;
  }

  private report(pass: RenewPass): void {
    for (const result of [
      'renewed',
      'gone',
      'failed',
      'lapsed',
      'overdue',
    ] as const satisfies LeaseRenewalResult[]) {
      if (pass[result] > 0) safe(this.deps.metrics.onLeaseRenewal, result, pass[result]);
    }
  }

  /** One timer for every reservation held, chained (a reload's new interval applies at the next tick). */
  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.renewNow().finally(() => {
        if (this.held.size > 0) this.schedule();
      });
    }, this.deps.config().budgeting.renewEveryMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
