/**
 * Settles a store reset lost ([hardening] 14.1): the reservations this instance holds are
 * remembered (id -> reserved amount) until settled; when the reset is detected they all become
 * lost, and their settles are announced (`settle_lost`: logged and counted by the gateway) instead
 * of being silent no-ops against counters that are gone. Bounded: past MAX_TRACKED the oldest go.
 */
import type { Nano } from '../../money.js';
import type { RedisEpoch } from './epoch.js';

const MAX_TRACKED = 100_000;

export class LostSettles {
  private readonly inFlight = new Map<string, Nano>();
  private readonly lost = new Map<string, Nano>();

  constructor(private readonly epoch: RedisEpoch) {
    epoch.on((event) => {
      if (event.type !== 'reset') return;
      for (const [id, amount] of this.inFlight) remember(this.lost, id, amount);
      this.inFlight.clear();
    });
  }

  reserved(id: string, amountNano: Nano): void {
    remember(this.inFlight, id, amountNano);
  }

  settled(id: string): void {
    this.inFlight.delete(id);
  }

  /** True (and announced) when `id` was in flight at the reset: its settle lands nowhere. */
  wasLost(id: string, actualNano: Nano): boolean {
    const reservedNano = this.lost.get(id);
    if (reservedNano === undefined) return false;
    this.lost.delete(id);
    this.epoch.emit({ type: 'settle_lost', reservationId: id, reservedNano, actualNano });
    return true;
  }
}

/** Adds to a bounded map (insertion order: the oldest entry goes first). */
function remember(map: Map<string, Nano>, id: string, amount: Nano): void {
  map.set(id, amount);
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value as string);
}
