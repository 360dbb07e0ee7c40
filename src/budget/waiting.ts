/**
 * Waiting for money held by requests in flight (budgeting.max_wait_ms, DESIGN §2 `budget_busy`).
 *
 * The store keeps the order (first come, first served per budget line, across instances: a waiter
 * is queued on the lines that answered busy, and later requests are refused the money it is owed).
 * This side only decides when to ask again, without a polling storm:
 * - the store says when money came back on a line someone waits for (Redis: pub/sub from the
 *   settle scripts, only when a queue is non-empty; SQLite: in this process);
 * - one such event wakes at most WAKE_PER_EVENT local waiters of those lines, oldest first (the
 *   store would refuse the younger ones the money the older are owed anyway);
 * - everyone else asks again on a capped, jittered back-off, which also covers other processes on
 *   one SQLite file (no notification crosses processes there).
 * So the store load of N waiters is bounded by N / BACKOFF_CAP_MS plus a few calls per settle.
 */
import type { BudgetStore, LineSpec } from '../store/types.js';
import type { PlannedLine } from './admission-plan.js';

const WAKE_PER_EVENT = 4;
const BACKOFF_START_MS = 20;
const BACKOFF_CAP_MS = 400;

interface Waiter {
  keys: ReadonlySet<string>;
  wake(): void;
}

export function lineKeyOf(line: Pick<LineSpec, 'instance' | 'period'>): string {
  return `${line.instance}|${line.period}`;
}

export class FreedWaiters {
  /** In arrival order: the oldest waiter of a line is woken first. */
  private readonly waiters = new Set<Waiter>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly store: Pick<BudgetStore, 'onFreed'>) {}

  /**
   * Resolves when money came back on one of `lines`, or after the back-off for the attempt-th
   * retry, or at `maxMs`, whichever is first.
   */
  wait(lines: readonly LineSpec[], attempt: number, maxMs: number): Promise<void> {
    this.subscribe();
    const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** Math.min(attempt, 10));
    const delay = Math.max(0, Math.min(maxMs, backoff * (0.5 + Math.random() / 2)));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys: new Set(lines.map(lineKeyOf)),
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, delay);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  private subscribe(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.store.onFreed((keys) => this.freed(keys));
  }

  private freed(keys: readonly string[]): void {
    let woken = 0;
    for (const waiter of [...this.waiters]) {
      if (woken >= WAKE_PER_EVENT) break;
      if (keys.some((key) => waiter.keys.has(key))) {
        waiter.wake();
        woken++;
      }
    }
  }
}

/** The wait queues one admission joined, left again when it ends without them. */
export class Waits {
  attempts = 0;
  private readonly lines = new Map<string, LineSpec>();

  constructor(
    private readonly store: Pick<BudgetStore, 'abandonWait'>,
    private readonly reservationId: string | null,
  ) {}

  queued(lines: readonly PlannedLine[]): void {
    for (const l of lines) this.lines.set(lineKeyOf(l.spec), l.spec);
  }

  /** Leaves every queue joined, except those of `reservedOn` (the store left them on success). */
  abandonAll(reservedOn: readonly PlannedLine[] = []): void {
    if (this.reservationId === null || this.lines.size === 0) return;
    for (const l of reservedOn) this.lines.delete(lineKeyOf(l.spec));
    if (this.lines.size === 0) return;
    const lines = [...this.lines.values()];
    this.lines.clear();
    // A queue entry left behind only delays others until it expires (its waitUntilMs).
    this.store.abandonWait(this.reservationId, lines).catch(() => {});
  }
}
