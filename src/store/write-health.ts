/**
 * Store write health, for /readyz and the error log ([hardening] 9). A full disk (SQLITE_FULL), a
 * read-only file or a Redis refusing writes (OOM, MISCONF) leaves `SELECT 1` / PING answering, so
 * readiness used to stay 200 while every request failed with 503. Here every write (reserve,
 * settle, release, top-up, reset, claim) is watched: readiness fails while the most recent write
 * failed within WINDOW_MS and none succeeded since, and failures are logged at most once per
 * operation per LOG_EVERY_MS, with the count of those not logged in between.
 */
import type { BudgetStore } from './types.js';

export const WINDOW_MS = 30_000;
export const LOG_EVERY_MS = 10_000;

export interface WriteHealthOptions {
  /** Logs one failed write (rate-limited); `suppressed`: failures of this operation not logged since the last line. */
  log: (entry: { op: string; error: string; code: string | undefined; suppressed: number }) => void;
  clock?: () => number;
}

export interface WatchedStore {
  store: BudgetStore;
  /** Why the store is not ready for writes, or undefined. */
  problem(): string | undefined;
}

const WRITES = ['reserve', 'settle', 'release', 'topUp', 'reset', 'claimOnce'] as const;

export function watchWrites(inner: BudgetStore, options: WriteHealthOptions): WatchedStore {
  const clock = options.clock ?? Date.now;
  let lastFailure: { atMs: number; message: string } | undefined;
  const logged = new Map<string, { atMs: number; suppressed: number }>();

  const failed = (op: string, error: unknown) => {
    const now = clock();
    const message = error instanceof Error ? error.message : String(error);
    lastFailure = { atMs: now, message };
    const seen = logged.get(op);
    if (seen && now - seen.atMs < LOG_EVERY_MS) {
      seen.suppressed++;
      return;
    }
    const code =
      (error as { code?: unknown; cause?: { code?: unknown } }).code ??
      (error as { cause?: { code?: unknown } }).cause?.code;
    options.log({
      op,
      error: message,
      code: typeof code === 'string' ? code : undefined,
      suppressed: seen?.suppressed ?? 0,
    });
    logged.set(op, { atMs: now, suppressed: 0 });
  };

  const store: BudgetStore = Object.create(inner);
  store.close = inner.close.bind(inner);
  for (const op of WRITES) {
    const original = (inner[op] as (...args: unknown[]) => Promise<unknown>).bind(inner);
    (store as unknown as Record<string, unknown>)[op] = async (...args: unknown[]) => {
      try {
        const result = await original(...args);
        lastFailure = undefined;
        return result;
      } catch (error) {
        failed(op, error);
        throw error;
      }
    };
  }
  for (const op of ['balances', 'reapExpired', 'instances', 'ping'] as const) {
    (store as unknown as Record<string, unknown>)[op] = (inner[op] as (...args: unknown[]) => unknown).bind(
      inner,
    );
  }
  return {
    store,
    problem() {
      if (!lastFailure || clock() - lastFailure.atMs > WINDOW_MS) return undefined;
      return `a store write failed ${Math.round((clock() - lastFailure.atMs) / 1000)} s ago and none succeeded since: ${lastFailure.message}`;
    },
  };
}
