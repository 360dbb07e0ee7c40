/**
 * Extensions of metered reservations (DESIGN §3 "Metered streams"): a stream holds its prompt and a
 * slice of output, and asks for the next slice ahead of what it relayed. One store call per slice,
 * atomic on every line the reservation holds; it also renews the lease (as the heartbeat does for
 * every reservation, src/budget/leases.ts), so a dead instance's slices come back one lease after.
 *
 * The extension is the one place that would later be served from a share of a budget leased to the
 * instance (no store call): it takes an admission and answers an ExtendOutcome, nothing about how.
 */
import type { RuntimeConfig } from '../config/runtime.js';
import { type BudgetStore, StoreUnavailableError } from '../store/types.js';
import type { BalanceCache } from './balance-cache.js';
import type { LeaseKeeper } from './leases.js';
import type { AdmissionGranted, ExtendOutcome } from './types.js';

/**
 * How long a busy extension holds its least addition at the head of its lines' wait queues: past
 * the meter's next asks (a sixteenth of a slice later), so a hold lapses only when its stream is
 * gone without a settle (a crash); its lease then gives the money back too.
 */
export const EXTENSION_HOLD_MS = 2000;

export interface MeteringDeps {
  store: BudgetStore;
  config: () => RuntimeConfig;
  clock: () => number;
  cache: BalanceCache;
  leases: Pick<LeaseKeeper, 'isLost' | 'renewed'>;
}

export class Metering {
  constructor(private readonly deps: MeteringDeps) {}

  async extend(admission: AdmissionGranted, addCap: number, minAddCap: number): Promise<ExtendOutcome> {
    const { reservation, meter } = admission;
    if (!meter) return { status: 'rejected' };
    // Not counted (on_unavailable allow at admission): nothing to extend, nothing to enforce.
    if (!reservation || (reservation.lines.length === 0 && !reservation.limits?.length))
      return { status: 'extended', grantedAddCap: addCap };
    // A renewal found it reaped: what it held was charged, nothing more can be (no round trip).
    if (this.deps.leases.isLost(reservation.id)) return { status: 'gone' };
    const nowMs = this.deps.clock();
    const leaseExpiresAtMs = nowMs + this.deps.config().budgeting.leaseMs;
    // After `add` more, the slice the answer would ask for next (none past its full cap).
    const nextSliceCap = (add: number) =>
      Math.max(0, Math.min(meter.sliceCap, meter.fullCap - meter.heldCap - add));
    // Each ask holds its least addition when busy, or once extended the next slice
    // (ExtendRequest.holdUntilMs): answers being relayed go before new requests.
    const ask = (add: number) =>
      this.deps.store.extend({
        reservationId: reservation.id,
        addCap: add,
        minAddCap: Math.min(minAddCap, add),
        nowMs,
        leaseExpiresAtMs,
        holdUntilMs: nowMs + EXTENSION_HOLD_MS,
        nextHoldCap: nextSliceCap(add),
        // Its tokens_per_minute limits count the output as it is held, not only at the settle.
        ...(reservation.limits?.length ? { tokensPerCap: meter.outputMultiplier } : {}),
      });
    let result: Awaited<ReturnType<BudgetStore['extend']>>;
    try {
      result = await ask(addCap);
      // Busy: the whole slice waits for money others hold, but an answer being relayed cannot
      // wait; the least useful addition, if it fits now, keeps it going (one more call, only here).
      if (result.status === 'busy' && minAddCap < addCap) result = await ask(minAddCap);
    } catch (error) {
      if (error instanceof StoreUnavailableError) return { status: 'unavailable' };
      throw error;
    }
    if (result.status === 'unknown') return { status: 'gone' };
    this.deps.leases.renewed(reservation.id, leaseExpiresAtMs);
    this.deps.cache.rememberAll(reservation.lines, result.balances);
    if (result.status !== 'extended') return { status: result.status };
    meter.heldCap = result.cap;
    reservation.amountNano = result.amountNano;
    admission.reservedOutputTokens = result.cap * meter.outputMultiplier;
    return { status: 'extended', grantedAddCap: result.grantedAddCap };
  }

  /**
   * Whether the admission's lines, as this instance last saw them (the store's answers to reserves
   * and extensions), could pay `tokens` more output beyond what is reserved on them AND are each
   * less than half used: far from their end, where an extension in flight is all but certain.
   * True when nothing is counted. A hint for the meter, not a promise: others may take the money.
   */
  farFromEnd(admission: AdmissionGranted, tokens: number): boolean {
    const lines = admission.reservation?.lines ?? [];
    const needNano = Math.ceil((tokens * admission.servedModel.price.output) / 1000);
    for (const line of lines) {
      const balance = this.deps.cache.of(line);
      if (!balance) return false;
      const free = balance.limitNano - balance.spentNano - balance.reservedNano;
      if (free < needNano || free * 2 < balance.limitNano) return false;
    }
    return true;
  }
}
