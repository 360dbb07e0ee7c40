/**
 * An engine over the real SQLite store (in memory) with an injected clock, and a store that can be
 * taken down, for the admission and settlement tests.
 */
import type { RuntimeConfig } from '../config/runtime.js';
import { SqliteStore } from '../store/sqlite/budget.js';
import { type BudgetStore, StoreUnavailableError } from '../store/types.js';
import { ZERO_USAGE } from '../usage.js';
import { type BudgetEvent, createBudgetEngine, type ManagedBudgetEngine } from './engine.js';
import { identity } from './fixtures.test-helpers.js';
import type { Admission, AdmissionDenied, AdmissionGranted, Identity } from './types.js';

export const NOON = Date.UTC(2026, 10, 28, 12);

const open: Array<{ close(): Promise<void> }> = [];

/** For afterEach: closes every engine and store made since the last call. */
export async function closeAll(): Promise<void> {
  while (open.length > 0) await open.pop()!.close();
}

export function track<T extends { close(): Promise<void> }>(closable: T): T {
  open.push(closable);
  return closable;
}

export function setup(
  cfg: RuntimeConfig,
  options: { store?: BudgetStore; onUnavailable?: 'reject' | 'allow' } = {},
) {
  const sqlite = new SqliteStore({ path: ':memory:' });
  const store = options.store ?? sqlite;
  const events: BudgetEvent[] = [];
  const counts = { unrecorded: 0, expired: 0, retriesQueued: [] as string[] };
  let now = NOON;
  const engine = createBudgetEngine({
    config: () => cfg,
    store,
    clock: () => now,
    reapIntervalMs: 0,
    onEvent: (e) => events.push(e),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...(options.onUnavailable ? { onUnavailable: options.onUnavailable } : {}),
    metrics: {
      onUnrecorded: () => counts.unrecorded++,
      onExpired: (n) => (counts.expired += n),
      onRetryQueued: (operation) => counts.retriesQueued.push(operation),
    },
  });
  open.push(engine, sqlite);
  return { engine, store: sqlite, events, counts, setNow: (ms: number) => (now = ms) };
}

export function granted(admission: Admission): AdmissionGranted {
  if (!admission.ok) throw new Error(`expected a grant, got ${JSON.stringify(admission.denial)}`);
  return admission;
}

export function denied(admission: Admission): AdmissionDenied {
  if (admission.ok) throw new Error(`expected a denial, got ${admission.servedModel.name}`);
  return admission;
}

export function usage(inputTokens: number, outputTokens: number) {
  return { ...ZERO_USAGE, inputTokens, outputTokens };
}

export async function spent(engine: ManagedBudgetEngine, who: Identity = identity(), nowMs = NOON) {
  const views = await engine.budgetsFor(who, nowMs);
  return Object.fromEntries(views.map((v) => [v.instance, { spent: v.spentNano, reserved: v.reservedNano }]));
}

/** A store that is down while `down` is true. */
export class FlakyStore implements BudgetStore {
  readonly kind = 'sqlite' as const;
  down = false;
  constructor(private readonly inner: BudgetStore) {}
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    return this.down ? Promise.reject(new StoreUnavailableError('store down (test)')) : fn();
  }
  reserve: BudgetStore['reserve'] = (r) => this.guard(() => this.inner.reserve(r));
  settle: BudgetStore['settle'] = (id, n, t) => this.guard(() => this.inner.settle(id, n, t));
  limitUses: BudgetStore['limitUses'] = (l, now) => this.guard(() => this.inner.limitUses(l, now));
  release: BudgetStore['release'] = (id) => this.guard(() => this.inner.release(id));
  extend: BudgetStore['extend'] = (r) => this.guard(() => this.inner.extend(r));
  abandonWait: BudgetStore['abandonWait'] = (id, l) => this.guard(() => this.inner.abandonWait(id, l));
  onFreed: BudgetStore['onFreed'] = (listener) => this.inner.onFreed(listener);
  balances: BudgetStore['balances'] = (l) => this.guard(() => this.inner.balances(l));
  reapExpired: BudgetStore['reapExpired'] = (t) => this.guard(() => this.inner.reapExpired(t));
  renewLeases: BudgetStore['renewLeases'] = (ids, now, exp) =>
    this.guard(() => this.inner.renewLeases(ids, now, exp));
  topUp: BudgetStore['topUp'] = (l, n) => this.guard(() => this.inner.topUp(l, n));
  reset: BudgetStore['reset'] = (l) => this.guard(() => this.inner.reset(l));
  claimOnce: BudgetStore['claimOnce'] = (i, p, n, t, now) =>
    this.guard(() => this.inner.claimOnce(i, p, n, t, now));
  instances: BudgetStore['instances'] = (b, p) => this.guard(() => this.inner.instances(b, p));
  ping: BudgetStore['ping'] = () => this.guard(() => this.inner.ping());
  prepare: BudgetStore['prepare'] = () => this.inner.prepare();
  resetState: BudgetStore['resetState'] = () => this.inner.resetState();
  recover: BudgetStore['recover'] = () => this.inner.recover();
  onStoreEvent: BudgetStore['onStoreEvent'] = (listener) => this.inner.onStoreEvent(listener);
  clockOffsetMs: BudgetStore['clockOffsetMs'] = () => this.inner.clockOffsetMs();
  close = () => Promise.resolve();
}
