/**
 * The engine against the real SQLite store (in memory).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BudgetEvent, createBudgetEngine, type ManagedBudgetEngine } from './engine.js';
import type { AdmissionGranted, Identity } from './types.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { GatewayError } from '../errors.js';
import { usdToNano } from '../money.js';
import { SqliteStore } from '../store/sqlite.js';
import { type BudgetStore, StoreUnavailableError } from '../store/types.js';
import { ZERO_USAGE } from '../usage.js';
import { budget, config, identity, request } from './fixtures.test-helpers.js';

const NOON = Date.UTC(2026, 10, 28, 12);
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

function setup(
  cfg: RuntimeConfig,
  options: { store?: BudgetStore; onUnavailable?: 'reject' | 'allow' } = {},
) {
  const sqlite = new SqliteStore({ path: ':memory:' });
  const store = options.store ?? sqlite;
  const events: BudgetEvent[] = [];
  const counts = { unrecorded: 0, expired: 0, rejected: [] as string[], downgrades: [] as string[] };
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
      onRejected: (reason) => counts.rejected.push(reason),
      onDowngrade: (from, to) => counts.downgrades.push(`${from}->${to}`),
    },
  });
  open.push(engine, sqlite);
  return { engine, store: sqlite, events, counts, setNow: (ms: number) => (now = ms) };
}

function granted(admission: unknown): AdmissionGranted {
  const a = admission as AdmissionGranted | { ok: false; error: GatewayError };
  if (!a.ok) throw new Error(`expected a grant, got ${a.error.code}: ${a.error.message}`);
  return a;
}

function usage(inputTokens: number, outputTokens: number) {
  return { ...ZERO_USAGE, inputTokens, outputTokens };
}

async function spent(engine: ManagedBudgetEngine, who: Identity = identity(), nowMs = NOON) {
  const views = await engine.budgetsFor(who, nowMs);
  return Object.fromEntries(views.map((v) => [v.instance, { spent: v.spentNano, reserved: v.reservedNano }]));
}

describe('admission', () => {
  it('reserves on every budget or none', async () => {
    const cfg = config({
      budgets: [
        budget({ id: 'key', scope: { key: 'web-app' }, limitUsd: 10 }),
        budget({ id: 'team-web', scope: { team: 'web' }, limitUsd: 0.17 }),
        budget({ id: 'everything', limitUsd: 100 }),
      ],
    });
    const { engine } = setup(cfg);
    const first = granted(await engine.admit(request(cfg)));
    // 1000 prompt tokens at $2.50/M + 16384 output tokens at $10/M.
    expect(first.estimateNano).toBe(2_500_000 + 163_840_000);
    expect(first.reservation?.lines.map((l) => l.instance)).toEqual(['key', 'team-web', 'everything']);
    expect(first.tightest?.instance).toBe('team-web');

    const second = await engine.admit(request(cfg));
    expect(second.ok).toBe(false);
    const balances = await spent(engine);
    for (const id of ['key', 'team-web', 'everything'])
      expect(balances[id]?.reserved).toBe(first.estimateNano);
  });

  it('answers 429 budget_exceeded naming the budget and its reset', async () => {
    const cfg = config({ budgets: [budget({ id: 'team-web', scope: { team: 'web' }, limitUsd: 0.001 })] });
    const { engine, counts } = setup(cfg);
    const denied = await engine.admit(request(cfg));
    if (denied.ok) throw new Error('expected a rejection');
    expect(denied.error).toBeInstanceOf(GatewayError);
    expect(denied.error.status).toBe(429);
    expect(denied.error.code).toBe('budget_exceeded');
    expect(denied.error.message).toContain('"team-web"');
    expect(denied.error.message).toContain('2026-12-01T00:00:00.000Z');
    expect(denied.error.headers['x-should-retry']).toBe('false');
    expect(denied.error.headers['retry-after']).toBe(String((Date.UTC(2026, 11, 1) - NOON) / 1000));
    expect(denied.budgets?.[0]?.instance).toBe('team-web');
    expect(counts.rejected).toEqual(['budget_exceeded']);
  });

  it('omits retry-after for prepaid budgets and tells anonymous users the upgrade message', async () => {
    const prepaid = config({ budgets: [budget({ id: 'credits', limitUsd: 0.001, period: 'none' })] });
    const a = await setup(prepaid).engine.admit(request(prepaid));
    if (a.ok) throw new Error('expected a rejection');
    expect(a.error.headers['retry-after']).toBeUndefined();
    expect(a.error.message).toContain('"credits"');
    expect(a.error.message).toContain('top-up');

    const trial = config({
      anonymous: { limitUsd: 0.0001, models: ['gpt-4o-mini'], upgradeMessage: 'Sign up!' },
    });
    const anon = identity({ keyId: 'anonymous', user: '203.0.113.9', team: undefined, anonymous: true });
    const b = await setup(trial).engine.admit(request(trial, { model: 'gpt-4o-mini', identity: anon }));
    if (b.ok) throw new Error('expected a rejection');
    expect(b.error.message).toBe('Sign up!');
    expect(b.budgets?.[0]?.instance).toBe('anonymous-trial|user=203.0.113.9');
  });

  it('fits the output cap to what is left and the settled spend stays within the limit', async () => {
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 0.05 })] });
    const { engine } = setup(cfg);
    const a = granted(await engine.admit(request(cfg)));
    // (0.05 - 0.0025) USD / $0.00001 per output token.
    expect(a.outputCap).toBe(4750);
    expect(a.clamped).toBe(true);
    expect(a.capChanged).toBe(true);
    const outcome = await engine.settle(a.reservation, a.servedModel, usage(1000, a.outputCap!));
    expect(outcome.costNano).toBe(usdToNano(0.05));
    expect((await spent(engine)).small).toEqual({ spent: usdToNano(0.05), reserved: 0 });
    expect((await engine.admit(request(cfg))).ok).toBe(false);
  });

  it('never overspends under concurrency when every request uses its whole cap', async () => {
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 0.2 })], minOutputTokens: 100 });
    const { engine } = setup(cfg);
    const admissions = await Promise.all(
      Array.from({ length: 60 }, () => engine.admit(request(cfg, { requestedCap: 2000, promptTokens: 500 }))),
    );
    const ok = admissions.filter((a): a is AdmissionGranted => a.ok);
    expect(ok.length).toBeGreaterThan(5);
    expect(ok.length).toBeLessThan(60);
    await Promise.all(ok.map((a) => engine.settle(a.reservation, a.servedModel, usage(500, a.outputCap!))));
    const small = (await spent(engine)).small!;
    expect(small.reserved).toBe(0);
    expect(small.spent).toBeLessThanOrEqual(usdToNano(0.2));
  });

  it('keeps the client cap when affordable and never asks for more than the model can produce', async () => {
    const cfg = config({ budgets: [budget({ id: 'big', limitUsd: 100 })] });
    const { engine } = setup(cfg);
    const small = granted(await engine.admit(request(cfg, { requestedCap: 300 })));
    expect(small).toMatchObject({ outputCap: 300, capChanged: false, clamped: false });
    const huge = granted(await engine.admit(request(cfg, { requestedCap: 1_000_000 })));
    expect(huge.outputCap).toBe(16384);
    expect(huge.clamped).toBe(false);
    const embed = granted(
      await engine.admit(
        request(cfg, { model: 'text-embedding-3-small', outputless: true, promptTokens: 5000 }),
      ),
    );
    expect(embed).toMatchObject({ outputCap: undefined, capChanged: false, estimateNano: 100_000 });
  });

  it('does not call the store when no budget applies', async () => {
    const cfg = config({ budgets: [budget({ id: 'data', scope: { team: 'data' }, limitUsd: 1 })] });
    const throwing = {
      reserve: () => Promise.reject(new Error('must not be called')),
    } as unknown as BudgetStore;
    const { engine } = setup(cfg, { store: throwing });
    const a = granted(await engine.admit(request(cfg)));
    expect(a.reservation?.lines).toEqual([]);
    expect(a.tightest).toBeUndefined();
    expect((await engine.settle(a.reservation, a.servedModel, usage(10, 10))).costNano).toBe(125_000);
  });
});

describe('downgrades and allowed models', () => {
  const tiered = () =>
    config({
      budgets: [
        budget({
          id: 'web-monthly',
          scope: { team: 'web' },
          limitUsd: 1,
          thresholds: [
            { at: 0.5, downgrade: { 'gpt-4o': 'gpt-4o-mini' } },
            { at: 0.8, downgrade: { 'gpt-4o-mini': 'gpt-4.1-nano' } },
          ],
        }),
      ],
    });

  /** Spends `usd` on gpt-4o through the engine (input tokens only). */
  async function spend(engine: ManagedBudgetEngine, cfg: RuntimeConfig, usd: number) {
    const tokens = Math.round((usd * 1e6) / 2.5);
    const a = granted(
      await engine.admit(request(cfg, { model: 'gpt-4o-mini', promptTokens: 1, requestedCap: 1 })),
    );
    await engine.settle(a.reservation, cfg.models.get('gpt-4o')!, usage(tokens, 0));
  }

  it('downgrades past a threshold, then chains past the next', async () => {
    const cfg = tiered();
    const { engine, counts } = setup(cfg);
    expect(granted(await engine.admit(request(cfg, { requestedCap: 100 }))).servedModel.name).toBe('gpt-4o');
    await spend(engine, cfg, 0.6);
    const second = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    expect(second.servedModel.name).toBe('gpt-4o-mini');
    expect(second.downgradedFrom).toBe('gpt-4o');
    await spend(engine, cfg, 0.25);
    const third = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    expect(third.servedModel.name).toBe('gpt-4.1-nano');
    expect(third.downgradedFrom).toBe('gpt-4o');
    expect(counts.downgrades).toEqual(['gpt-4o->gpt-4o-mini', 'gpt-4o->gpt-4.1-nano']);
  });

  it("lets the store's fresher view win over a stale cache (another instance spent)", async () => {
    const cfg = tiered();
    const store = new SqliteStore({ path: ':memory:' });
    open.push(store);
    const a = setup(cfg, { store }).engine;
    const b = setup(cfg, { store }).engine;
    expect(granted(await b.admit(request(cfg, { requestedCap: 100 }))).servedModel.name).toBe('gpt-4o');
    await spend(a, cfg, 0.6);
    // b last saw the budget nearly empty; the store answers 'downgrade' and b re-plans.
    expect(granted(await b.admit(request(cfg, { requestedCap: 100 }))).servedModel.name).toBe('gpt-4o-mini');
  });

  it('measures thresholds against the effective limit (rollover), not the base limit', async () => {
    const cfg = config({
      budgets: [
        budget({
          id: 'rolling',
          limitUsd: 1,
          rolloverUsd: 1,
          thresholds: [{ at: 0.5, downgrade: { 'gpt-4o': 'gpt-4o-mini' } }],
        }),
      ],
    });
    const store = new SqliteStore({ path: ':memory:' });
    open.push(store);
    // Last month saw use (a touched period carries its unused budget; an untouched one carries nothing).
    const lastMonth = setup(cfg, { store }).engine;
    const october = Date.UTC(2026, 9, 15, 12);
    const touched = granted(await lastMonth.admit(request(cfg, { requestedCap: 1, nowMs: october })));
    await lastMonth.release(touched.reservation);
    const a = setup(cfg, { store }).engine;
    await spend(a, cfg, 0.6);
    // The limit is $2 with the rollover carried in: 30% used, no downgrade, even for an engine that
    // has never seen the line (its first guess uses the base limit; the store's answer corrects it).
    const fresh = setup(cfg, { store }).engine;
    const admitted = granted(await fresh.admit(request(cfg, { requestedCap: 100 })));
    expect(admitted.servedModel.name).toBe('gpt-4o');
    expect(admitted.tightest?.limitNano).toBe(usdToNano(2));
  });

  it('honours the models a key may use', async () => {
    const cfg = tiered();
    const { engine, counts } = setup(cfg);
    const onlyMini = identity({ allowedModels: new Set(['gpt-4o-mini']) });
    const forbidden = await engine.admit(request(cfg, { identity: onlyMini }));
    if (forbidden.ok) throw new Error('expected 403');
    expect(forbidden.error.status).toBe(403);
    expect(forbidden.error.code).toBe('forbidden_model');
    expect(counts.rejected).toEqual(['forbidden_model']);

    await spend(engine, cfg, 0.85);
    const skip = identity({ allowedModels: new Set(['gpt-4o', 'gpt-4.1-nano', 'gpt-4o-mini']) });
    expect(
      granted(await engine.admit(request(cfg, { identity: skip, requestedCap: 10 }))).servedModel.name,
    ).toBe('gpt-4.1-nano');
    const noMini = identity({ allowedModels: new Set(['gpt-4o', 'gpt-4.1-nano']) });
    // gpt-4o-mini is stepped through, never served.
    expect(
      granted(await engine.admit(request(cfg, { identity: noMini, requestedCap: 10 }))).servedModel.name,
    ).toBe('gpt-4.1-nano');
    const onlyBig = identity({ allowedModels: new Set(['gpt-4o']) });
    expect(
      granted(await engine.admit(request(cfg, { identity: onlyBig, requestedCap: 10 }))).servedModel.name,
    ).toBe('gpt-4o');
  });

  it('previews the same decision without reserving', async () => {
    const cfg = tiered();
    const { engine } = setup(cfg);
    await spend(engine, cfg, 0.6);
    const preview = await engine.preview(request(cfg, { requestedCap: 100 }));
    expect(preview.ok).toBe(true);
    expect(preview.servedModel?.name).toBe('gpt-4o-mini');
    if (preview.ok) expect(preview.reservation).toBeNull();
    expect(preview.budgets.map((b) => b.instance)).toEqual(['web-monthly']);
    expect((await spent(engine))['web-monthly']?.reserved).toBe(0);
  });
});

describe('settling, alerts and periods', () => {
  it('fires a threshold alert exactly once across many concurrent settles and two instances', async () => {
    const cfg = config({
      budgets: [budget({ id: 'shared', limitUsd: 1, thresholds: [{ at: 0.5 }, { at: 0.7 }] })],
    });
    const store = new SqliteStore({ path: ':memory:' });
    open.push(store);
    const one = setup(cfg, { store });
    const two = setup(cfg, { store });
    const engines = [one.engine, two.engine];
    const admissions = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        engines[i % 2]!.admit(request(cfg, { promptTokens: 8000, requestedCap: 1, model: 'gpt-4o' })),
      ),
    );
    await Promise.all(
      admissions.map((a, i) => {
        const g = granted(a);
        return engines[i % 2]!.settle(g.reservation, g.servedModel, usage(8000, 0));
      }),
    );
    const events = [...one.events, ...two.events];
    expect(events.filter((e) => e.type === 'threshold' && e.at === 0.5)).toHaveLength(1);
    expect(events.filter((e) => e.type === 'threshold' && e.at === 0.7)).toHaveLength(1);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ budgetId: 'shared', instance: 'shared', period: '2026-11' });
  });

  it('settles a reservation made before a period reset into its own period', async () => {
    const cfg = config({
      budgets: [budget({ id: 'daily', limitUsd: 1, period: 'daily', timezone: 'Asia/Tokyo' })],
    });
    const { engine, setNow } = setup(cfg);
    const beforeMidnight = Date.parse('2026-11-28T14:59:59Z'); // 23:59:59 in Tokyo
    const afterMidnight = beforeMidnight + 2000;
    setNow(beforeMidnight);
    const a = granted(await engine.admit(request(cfg, { nowMs: beforeMidnight, requestedCap: 100 })));
    expect(a.reservation?.lines[0]?.period).toBe('2026-11-28');
    setNow(afterMidnight);
    await engine.settle(a.reservation, a.servedModel, usage(1000, 100));
    expect((await spent(engine, identity(), beforeMidnight)).daily).toEqual({
      spent: 3_500_000,
      reserved: 0,
    });
    expect((await spent(engine, identity(), afterMidnight)).daily).toEqual({ spent: 0, reserved: 0 });
    const b = granted(await engine.admit(request(cfg, { nowMs: afterMidnight, requestedCap: 100 })));
    expect(b.reservation?.lines[0]?.period).toBe('2026-11-29');
  });

  it('releases a reservation and settles expired leases through the reaper', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })], leaseMs: 1000 });
    const { engine, counts, setNow } = setup(cfg);
    const a = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    await engine.release(a.reservation);
    expect((await spent(engine)).b).toEqual({ spent: 0, reserved: 0 });
    const lost = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    setNow(NOON + 5000);
    expect(await engine.reapNow()).toBe(1);
    expect(counts.expired).toBe(1);
    expect((await spent(engine)).b).toEqual({ spent: lost.estimateNano, reserved: 0 });
    // A late settle of a reaped reservation changes nothing.
    await engine.settle(lost.reservation, lost.servedModel, usage(1, 1));
    expect((await spent(engine)).b?.spent).toBe(lost.estimateNano);
  });
});

/** A store that is down while `down` is true. */
class FlakyStore implements BudgetStore {
  readonly kind = 'sqlite' as const;
  down = false;
  constructor(private readonly inner: BudgetStore) {}
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    return this.down ? Promise.reject(new StoreUnavailableError('store down (test)')) : fn();
  }
  reserve: BudgetStore['reserve'] = (r) => this.guard(() => this.inner.reserve(r));
  settle: BudgetStore['settle'] = (id, n, t) => this.guard(() => this.inner.settle(id, n, t));
  release: BudgetStore['release'] = (id, t) => this.guard(() => this.inner.release(id, t));
  balances: BudgetStore['balances'] = (l) => this.guard(() => this.inner.balances(l));
  reapExpired: BudgetStore['reapExpired'] = (t) => this.guard(() => this.inner.reapExpired(t));
  topUp: BudgetStore['topUp'] = (l, n) => this.guard(() => this.inner.topUp(l, n));
  reset: BudgetStore['reset'] = (l) => this.guard(() => this.inner.reset(l));
  claimOnce: BudgetStore['claimOnce'] = (i, p, n, t) => this.guard(() => this.inner.claimOnce(i, p, n, t));
  instances: BudgetStore['instances'] = (b, p) => this.guard(() => this.inner.instances(b, p));
  ping: BudgetStore['ping'] = () => this.guard(() => this.inner.ping());
  close = () => Promise.resolve();
}

describe('store outages', () => {
  it('settles reservations made before an outage once the store is back', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const inner = new SqliteStore({ path: ':memory:' });
    open.push(inner);
    const flaky = new FlakyStore(inner);
    const { engine } = setup(cfg, { store: flaky });
    const a = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    const b = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    flaky.down = true;
    const outcome = await engine.settle(a.reservation, a.servedModel, usage(1000, 50));
    expect(outcome.costNano).toBe(3_000_000);
    await engine.release(b.reservation);
    expect(engine.pendingRetries()).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.pendingRetries()).toBe(2);
    flaky.down = false;
    await vi.waitFor(() => expect(engine.pendingRetries()).toBe(0), { timeout: 2000, interval: 10 });
    expect((await spent(engine)).b).toEqual({ spent: 3_000_000, reserved: 0 });
  });

  it("answers 503 in 'reject' mode", async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const flaky = new FlakyStore(new SqliteStore({ path: ':memory:' }));
    flaky.down = true;
    const { engine, counts } = setup(cfg, { store: flaky });
    const a = await engine.admit(request(cfg));
    if (a.ok) throw new Error('expected 503');
    expect(a.error.status).toBe(503);
    expect(a.error.code).toBe('store_unavailable');
    expect(counts.rejected).toEqual(['store_unavailable']);
    await expect(engine.budgetsFor(identity(), NOON)).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it("admits with a null reservation in 'allow' mode and counts it", async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })], onUnavailable: 'allow' });
    const flaky = new FlakyStore(new SqliteStore({ path: ':memory:' }));
    flaky.down = true;
    const { engine, counts } = setup(cfg, { store: flaky });
    const a = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    expect(a.reservation).toBeNull();
    expect(a.outputCap).toBe(100);
    expect(counts.unrecorded).toBe(1);
    expect((await engine.settle(null, a.servedModel, usage(1, 1))).costNano).toBe(12_500);
    expect(engine.pendingRetries()).toBe(0);
  });
});
