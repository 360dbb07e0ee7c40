/**
 * Failed admin-token attempts, per client: past `maxPerMinute` failures in the last 60 s the client
 * is refused (429) before its token is even compared, until the oldest failure leaves the window.
 * Online guessing of a 32+ character token is then hopeless. Kept in each instance's memory
 * (N instances let a client try N times as often; still 10/min each by default), bounded in size.
 */
const WINDOW_MS = 60_000;
const MAX_CLIENTS = 10_000;

export class FailedAttempts {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Ms the client must wait before it may try again; 0 when it may try now. */
  blockedForMs(client: string, maxPerMinute: number): number {
    const now = this.clock();
    const times = this.live(client, now);
    if (times.length < maxPerMinute) return 0;
    return Math.max(1, times[times.length - maxPerMinute]! + WINDOW_MS - now);
  }

  fail(client: string): void {
    const now = this.clock();
    const times = this.live(client, now);
    times.push(now);
    if (!this.failures.has(client)) {
      // Bounded: under a flood of distinct clients the oldest entry goes first (Map keeps insertion order).
      if (this.failures.size >= MAX_CLIENTS)
        this.failures.delete(this.failures.keys().next().value as string);
      this.failures.set(client, times);
    }
    // Only the most recent failures matter; keep the list short whatever the rate.
    if (times.length > 1000) times.splice(0, times.length - 1000);
  }

  private live(client: string, now: number): number[] {
    const times = this.failures.get(client);
    if (!times) return [];
    while (times.length > 0 && times[0]! <= now - WINDOW_MS) times.shift();
    if (times.length === 0) this.failures.delete(client);
    return times;
  }
}
