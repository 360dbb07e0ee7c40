/**
 * Settles and releases that hit a store outage wait here and are retried with backoff, so a
 * reservation made before an outage is settled at its real cost after it. Timers are unref'd: a
 * pending retry never keeps the process alive. What the queue gives up on is not lost money: the
 * reservation's lease expires and the store's reaper settles it at its reserved amount.
 */

/** One pending operation; resolves true when done (or nothing is left to do), false to retry. */
export type RetryAttempt = () => Promise<boolean>;

export interface RetryQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Items older than this are dropped (their leases have long expired and been reaped). */
  maxAgeMs?: number;
  maxItems?: number;
  onDrop?: (count: number) => void;
  /** For the age limit and the back-off schedule; injectable so tests need not wait. */
  clock?: () => number;
}

interface Item {
  attempt: RetryAttempt;
  firstAtMs: number;
  tries: number;
  nextAtMs: number;
}

export class RetryQueue {
  private readonly items: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private closed = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAgeMs: number;
  private readonly maxItems: number;
  private readonly onDrop: (count: number) => void;
  private readonly clock: () => number;

  constructor(options: RetryQueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3_600_000;
    this.maxItems = options.maxItems ?? 100_000;
    this.onDrop = options.onDrop ?? (() => {});
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.items.length;
  }

  enqueue(attempt: RetryAttempt): void {
    const now = this.clock();
    if (this.items.length >= this.maxItems) {
      this.items.shift();
      this.onDrop(1);
    }
    this.items.push({ attempt, firstAtMs: now, tries: 1, nextAtMs: now + this.delay(1) });
    this.schedule();
  }

  /** Tries every pending item once, now; returns how many are still pending. */
  async flush(): Promise<number> {
    await this.runDue(Number.POSITIVE_INFINITY);
    return this.items.length;
  }

  /** Stops the timer; pending items stay (flush() may still be called). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private delay(tries: number): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(tries - 1, 20));
    return Math.round(exp * (0.75 + Math.random() * 0.5));
  }

  private schedule(): void {
    if (this.closed || this.current || this.items.length === 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const item of this.items) next = Math.min(next, item.nextAtMs);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.runDue(this.clock());
      },
      Math.max(0, next - this.clock()),
    );
    this.timer.unref();
  }

  private async runDue(untilMs: number): Promise<void> {
    while (this.current) await this.current;
    this.current = this.runItems(untilMs);
    try {
      await this.current;
    } finally {
      this.current = undefined;
      this.schedule();
    }
  }

  /** Runs due items in order; the first failure ends the round (the store is likely still down). */
  private async runItems(untilMs: number): Promise<void> {
    const due = this.items.filter((item) => item.nextAtMs <= untilMs);
    for (const [i, item] of due.entries()) {
      let done = false;
      try {
        done = await item.attempt();
      } catch {
        done = false;
      }
      const now = this.clock();
      if (!done && now - item.firstAtMs > this.maxAgeMs) {
        done = true;
        this.onDrop(1);
      }
      if (done) {
        const index = this.items.indexOf(item);
        if (index >= 0) this.items.splice(index, 1);
        continue;
      }
      item.tries++;
      item.nextAtMs = now + this.delay(item.tries);
      for (const rest of due.slice(i + 1)) rest.nextAtMs = Math.max(rest.nextAtMs, item.nextAtMs);
      return;
    }
  }
}
