/**
 * The last alerts this process raised, newest last, for GET /admin/alerts. In memory and per
 * instance: with several instances, an alert is listed by the one that raised it (the store lets
 * exactly one instance raise each once-per-period alert).
 */
import type { Alert } from './event.js';
import type { Delivery } from './webhook-queue.js';

export interface AlertEntry {
  alert: Alert;
  payload: Record<string, unknown>;
  /** One per receiver the alert was sent to; updated in place as attempts finish. */
  deliveries: Delivery[];
}

export class RecentAlerts {
  private readonly entries: AlertEntry[] = [];

  constructor(private readonly capacity: () => number) {}

  add(entry: AlertEntry): void {
    this.entries.push(entry);
    const excess = this.entries.length - Math.max(1, this.capacity());
    if (excess > 0) this.entries.splice(0, excess);
  }

  /** Newest first. */
  list(limit: number): AlertEntry[] {
    if (limit <= 0) return [];
    return this.entries.slice(-limit).reverse();
  }

  get size(): number {
    return this.entries.length;
  }
}
