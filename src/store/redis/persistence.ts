/**
 * What the gateway checks of the Redis it counts money in: persistence at start-up ([hardening]
 * 14.1: a Redis without AOF loses every acknowledged write since its last snapshot on a restart;
 * CONFIG may be disabled or renamed on managed Redis: that is said, not fatal), and the clock
 * ([hardening] 14.3: skew between instances spent a rollover twice and reaped live reservations).
 */
import type { RedisClient } from './client.js';

export async function persistenceWarnings(redis: RedisClient): Promise<string[]> {
  try {
    const reply = (await redis.call((c) =>
      (c as { config(...args: string[]): Promise<unknown> }).config('GET', 'appendonly'),
    )) as unknown;
    const flat = Array.isArray(reply) ? reply.flat(2).map(String) : [];
    const at = flat.indexOf('appendonly');
    const value = at >= 0 ? flat[at + 1] : undefined;
    if (value === 'no') {
      return [
        'redis has appendonly no: a Redis restart loses the counters written since its last snapshot (budgets refill); the gateway detects an empty Redis and fails closed, see docs/operations.md. Set appendonly yes.',
      ];
    }
    return [];
  } catch (error) {
    return [
      `could not check Redis persistence (CONFIG GET appendonly: ${(error as Error).message}); make sure AOF is on (docs/stores.md)`,
    ];
  }
}

/** Below this the measured skew is noise (round trip, scheduling): no correction. */
export const SKEW_CORRECT_MS = 100;
/**
 * Past this the skew is not drift but a clock set wrong (a zone, a date, a test harness shifting
 * the process's Date): the gateway does not follow it, it reports it (metric, error log). Following
 * a store days off would move every period; NTP drift is seconds at worst.
 */
export const SKEW_FOLLOW_MAX_MS = 10 * 60_000;
const SKEW_EVERY_MS = 30_000;

/**
 * The store's clock minus this machine's (Date.now(), not an injected test clock), from Redis TIME
 * read between two local readings: offset = store - midpoint, good to half the round trip.
 */
export class ClockSkew {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly time: () => Promise<ReadonlyArray<string | number>>,
    private readonly onMeasured: (skewMs: number, followed: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {}

  offsetMs(): number {
    return this.offset;
  }

  async measure(): Promise<number> {
    const before = this.now();
    const [seconds, micros] = await this.time();
    const after = this.now();
    const skew = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (before + after) / 2;
    const noise = Math.max(SKEW_CORRECT_MS, (after - before) / 2);
    const followed = Math.abs(skew) > noise && Math.abs(skew) <= SKEW_FOLLOW_MAX_MS;
    this.offset = followed ? Math.round(skew) : 0;
    this.onMeasured(skew, followed);
    return skew;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.measure().catch(() => {}), SKEW_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
