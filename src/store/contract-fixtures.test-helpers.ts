/** Fixtures shared by the store contract suite's files (contract*.test-helpers.ts). */
import type { BudgetStore, LineSpec, ReserveRequest, ReserveResult } from './types.js';

export interface StoreFixture {
  store: BudgetStore;
  /**
   * Another store on the same data (another gateway instance: a second connection to the same
   * Redis prefix, a second handle on the same SQLite file); absent for ':memory:'. Closed by the caller.
   */
  openPeer?: () => BudgetStore;
  cleanup(): Promise<void>;
}

export const T0 = 1_800_000_000_000;
export const LEASE = 60_000;

export function line(instance: string, overrides: Partial<LineSpec> = {}): LineSpec {
  return {
    instance,
    budgetId: instance,
    period: 'p1',
    previousPeriod: null,
    limitNano: 1000,
    rolloverMaxNano: 0,
    downgradeAtNano: -1,
    ttlSeconds: 0,
    ...overrides,
  };
}

/** A request whose amount is `nano` exactly: all fixed cost, no output. */
export function flat(id: string, lines: LineSpec[], nano: number, nowMs = T0): ReserveRequest {
  return {
    reservationId: id,
    lines,
    fixedPico: nano * 1000,
    outputPico: 0,
    requestedCap: 0,
    minCap: 0,
    nowMs,
    leaseExpiresAtMs: nowMs + LEASE,
  };
}

export function reservedAmount(r: ReserveResult): number {
  if (r.status !== 'reserved') throw new Error(`expected reserved, got ${r.status}`);
  return r.amountNano;
}

/** Small deterministic PRNG so a failing concurrency run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
