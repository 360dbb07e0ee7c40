/**
 * Admission against the real SQLite store (in memory): reserve on every line or none, fit the cap,
 * downgrade, and refuse with denials as values (the HTTP edge words them, src/http/denial-errors.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RuntimeConfig } from '../config/runtime.js';
import { usdToNano } from '../money.js';
import { SqliteStore } from '../store/sqlite/budget.js';
import { type BudgetStore, StoreUnavailableError } from '../store/types.js';
import type { ManagedBudgetEngine } from './engine.js';
import {
  closeAll,
  denied,
  FlakyStore,
  granted,
  NOON,
  setup,
  spent,
  track,
  usage,
} from './engine.test-helpers.js';
import { budget, config, identity, request } from './fixtures.test-helpers.js';
import type { AdmissionGranted } from './types.js';

afterEach(closeAll);

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

  it('denies budget_exceeded with the budget, what is left, the minimum and the reset', async () => {
    const cfg = config({ budgets: [budget({ id: 'team-web', scope: { team: 'web' }, limitUsd: 0.001 })] });
    const { engine } = setup(cfg);
    const refusal = denied(await engine.admit(request(cfg)));
    expect(refusal.denial).toEqual({
      kind: 'budget_exceeded',
      budgetId: 'team-web',
      instance: 'team-web',
      remainingNano: usdToNano(0.001),
      // 1000 prompt tokens at $2.50/M + the 256 minimum output tokens at $10/M.
      minimumNano: 2_500_000 + 2_560_000,
      resetsAtMs: Date.UTC(2026, 11, 1),
      nowMs: NOON,
      anonymous: false,
    });
    expect(refusal.estimateNano).toBe(2_500_000 + 163_840_000);
    expect(refusal.servedModel?.name).toBe('gpt-4o');
    expect(refusal.budgets?.[0]?.instance).toBe('team-web');
  });

  it('denies prepaid budgets without a reset, and marks trial users anonymous', async () => {
    const prepaid = config({ budgets: [budget({ id: 'credits', limitUsd: 0.001, period: 'none' })] });
    const a = denied(await setup(prepaid).engine.admit(request(prepaid)));
    expect(a.denial).toMatchObject({ kind: 'budget_exceeded', budgetId: 'credits', resetsAtMs: null });

    const trial = config({
      anonymous: { limitUsd: 0.0001, models: ['gpt-4o-mini'], upgradeMessage: 'Sign up!' },
    });
    const anon = identity({ keyId: 'anonymous', user: '203.0.113.9', team: undefined, anonymous: true });
    const b = denied(
      await setup(trial).engine.admit(request(trial, { model: 'gpt-4o-mini', identity: anon })),
    );
    expect(b.denial).toMatchObject({
      kind: 'budget_exceeded',
      budgetId: 'anonymous-trial',
      instance: 'anonymous-trial|user=203.0.113.9',
      anonymous: true,
    });
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

  it('a metered first slice lowered to what is left is capped upstream at its hold, not metered past it', async () => {
    // gpt-4o: 1000 prompt tokens $0.0025, $0.00001 per output token; the slice is 1024 tokens.
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 0.01 })] });
    const { engine } = setup(cfg);
    const metered = { requestedCap: 4000, metered: true, stream: true };
    const lowered = granted(await engine.admit(request(cfg, metered)));
    // (0.01 - 0.0025) / 0.00001 = 750 tokens held, and the provider asked for no more.
    expect(lowered).toMatchObject({ outputCap: 750, reservedOutputTokens: 750, clamped: true });
    expect(lowered.meter).toBeUndefined();
    // A whole first slice is metered: the provider may go past it while the meter extends.
    const roomy = config({ budgets: [budget({ id: 'small', limitUsd: 1 })] });
    const whole = granted(await setup(roomy).engine.admit(request(roomy, metered)));
    expect(whole.meter).toMatchObject({ heldCap: 1024, fullCap: 4000 });
    expect(whole).toMatchObject({ outputCap: 4000, clamped: false });
  });

  it('a metered first slice waits for what others hold rather than be lowered to what is free', async () => {
    // gpt-4o: 1000 prompt tokens $0.0025, $0.00001 per output token. A whole first slice (1024
    // tokens) is $0.01274, more than the $0.012 budget: the slice can only be lowered.
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 0.012 })], maxWaitMs: 10_000 });
    const answers: string[] = [];
    let busySeen: () => void = () => {};
    const firstBusy = new Promise<void>((resolve) => (busySeen = resolve));
    const sqlite = new SqliteStore({ path: ':memory:' });
    const store = new FlakyStore(sqlite);
    store.reserve = async (req) => {
      const r = await sqlite.reserve(req);
      answers.push(`${r.status}${req.lowerOnlyWhenAlone ? ' alone' : ''}`);
      if (r.status === 'busy') busySeen();
      return r;
    };
    const { engine } = setup(cfg, { store });
    // Another request holds $0.0035 (100 output tokens, unmetered).
    const other = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    const metered = engine.admit(request(cfg, { requestedCap: 4000, metered: true, stream: true }));
    // Lowered at once it would get (0.012 - 0.0035 - 0.0025) / 0.00001 = 600 tokens.
    await firstBusy;
    await engine.settle(other.reservation, other.servedModel, usage(1000, 10));
    // It waited for the other to settle ($0.0026), then took what is left: 690 tokens.
    const lowered = granted(await metered);
    expect(lowered).toMatchObject({ outputCap: 690, clamped: true });
    expect(lowered.meter).toBeUndefined();
    expect(answers).toEqual(['reserved', 'busy alone', 'reserved alone']);
    await sqlite.close();
  });

  it('past its wait a metered first slice takes what is free while others hold the rest', async () => {
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 0.012 })], maxWaitMs: 0 });
    const { engine } = setup(cfg);
    granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    const lowered = granted(
      await engine.admit(request(cfg, { requestedCap: 4000, metered: true, stream: true })),
    );
    expect(lowered).toMatchObject({ outputCap: 600, clamped: true });
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
    const { engine } = setup(cfg);
    expect(granted(await engine.admit(request(cfg, { requestedCap: 100 }))).servedModel.name).toBe('gpt-4o');
    await spend(engine, cfg, 0.6);
    const second = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    expect(second.servedModel.name).toBe('gpt-4o-mini');
    expect(second.downgradedFrom).toBe('gpt-4o');
    await spend(engine, cfg, 0.25);
    const third = granted(await engine.admit(request(cfg, { requestedCap: 100 })));
    expect(third.servedModel.name).toBe('gpt-4.1-nano');
    expect(third.downgradedFrom).toBe('gpt-4o');
  });

  it("lets the store's fresher view win over a stale cache (another instance spent)", async () => {
    const cfg = tiered();
    const store = track(new SqliteStore({ path: ':memory:' }));
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
    const store = track(new SqliteStore({ path: ':memory:' }));
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
    const { engine } = setup(cfg);
    const onlyMini = identity({ allowedModels: new Set(['gpt-4o-mini']) });
    expect(denied(await engine.admit(request(cfg, { identity: onlyMini }))).denial).toEqual({
      kind: 'forbidden_model',
      model: 'gpt-4o',
      keyId: 'web-app',
      anonymous: false,
    });
    // A preview is refused the same way, touching no budget.
    expect(await engine.preview(request(cfg, { identity: onlyMini }))).toMatchObject({
      ok: false,
      denial: { kind: 'forbidden_model' },
      budgets: [],
    });

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

  it('tells trial users which models the trial offers', async () => {
    const trial = config({ anonymous: { limitUsd: 1, models: ['gpt-4o-mini', 'gpt-4.1-nano'] } });
    const anon = identity({ keyId: 'anonymous', user: '203.0.113.9', team: undefined, anonymous: true });
    const refusal = denied(await setup(trial).engine.admit(request(trial, { identity: anon })));
    expect(refusal.denial).toEqual({
      kind: 'forbidden_model',
      model: 'gpt-4o',
      keyId: 'anonymous',
      anonymous: true,
      allowed: ['gpt-4o-mini', 'gpt-4.1-nano'],
    });
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

describe('store outages at admission', () => {
  it("denies store_unavailable in 'reject' mode, and budgetsFor throws StoreUnavailableError", async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const flaky = new FlakyStore(new SqliteStore({ path: ':memory:' }));
    flaky.down = true;
    const { engine, counts } = setup(cfg, { store: flaky });
    const refusal = denied(await engine.admit(request(cfg)));
    expect(refusal.denial).toEqual({ kind: 'store_unavailable', operation: 'reserve' });
    expect(refusal.servedModel?.name).toBe('gpt-4o');
    expect(denied(await engine.preview(request(cfg))).denial.kind).toBe('store_unavailable');
    expect(counts.unrecorded).toBe(0);
    await expect(engine.budgetsFor(identity(), NOON)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('releases a reserve that timed out after it was sent, once the store answers', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const inner = track(new SqliteStore({ path: ':memory:' }));
    let landed: string | undefined;
    const timingOut: BudgetStore = Object.assign(Object.create(inner) as BudgetStore, {
      reserve: async (r: Parameters<BudgetStore['reserve']>[0]) => {
        await inner.reserve(r);
        landed = r.reservationId;
        throw new StoreUnavailableError('no answer in time (test)', { maybeApplied: true });
      },
    });
    const { engine, counts } = setup(cfg, { store: timingOut });
    expect(denied(await engine.admit(request(cfg, { requestedCap: 100 }))).denial.kind).toBe(
      'store_unavailable',
    );
    expect(landed).toBeDefined();
    expect(counts.retriesQueued).toEqual(['release']);
    expect(await engine.flushRetries()).toBe(0);
    expect((await spent(engine)).b).toEqual({ spent: 0, reserved: 0 });
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
