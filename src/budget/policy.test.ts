import { describe, expect, it } from 'vitest';
import type { LineSpec } from '../store/types.js';
import { simulateReserve } from './fit.js';
import { budget, standardModels } from './fixtures.test-helpers.js';
import { downgradeAtRatio, downgradeChain, thresholdNano } from './policy.js';

const models = standardModels();
const tiered = budget({
  id: 'tiered',
  limitUsd: 100,
  thresholds: [
    { at: 0.5, alert: true },
    { at: 0.8, downgrade: { 'gpt-4o': 'gpt-4o-mini', 'claude-sonnet-4-5': 'claude-haiku-4-5' } },
    { at: 0.9, downgrade: { 'gpt-4o-mini': 'gpt-4.1-nano' } },
  ],
});

describe('downgradeChain', () => {
  it('applies mappings of thresholds at or below the used ratio', () => {
    expect(downgradeChain('gpt-4o', [{ budget: tiered, usedRatio: 0.79 }], undefined, models)).toEqual([
      'gpt-4o',
    ]);
    expect(downgradeChain('gpt-4o', [{ budget: tiered, usedRatio: 0.8 }], undefined, models)).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
    ]);
  });

  it('chains until no mapping applies', () => {
    expect(downgradeChain('gpt-4o', [{ budget: tiered, usedRatio: 0.95 }], undefined, models)).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1-nano',
    ]);
  });

  it('combines the mappings of several budgets', () => {
    const other = budget({
      id: 'o',
      limitUsd: 1,
      thresholds: [{ at: 0.1, downgrade: { 'gpt-4o-mini': 'gpt-4.1-nano' } }],
    });
    const chain = downgradeChain(
      'gpt-4o',
      [
        { budget: tiered, usedRatio: 0.85 },
        { budget: other, usedRatio: 0.2 },
      ],
      undefined,
      models,
    );
    expect(chain).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano']);
  });

  it('stops on a cycle', () => {
    const cyclic = budget({
      id: 'c',
      limitUsd: 1,
      thresholds: [{ at: 0.1, downgrade: { 'gpt-4o': 'gpt-4o-mini', 'gpt-4o-mini': 'gpt-4o' } }],
    });
    expect(downgradeChain('gpt-4o', [{ budget: cyclic, usedRatio: 1 }], undefined, models)).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
    ]);
  });

  it('steps through models the key may not use and serves the last allowed one', () => {
    const ratio = [{ budget: tiered, usedRatio: 0.95 }];
    expect(downgradeChain('gpt-4o', ratio, new Set(['gpt-4o', 'gpt-4.1-nano']), models)).toEqual([
      'gpt-4o',
      'gpt-4.1-nano',
    ]);
    expect(downgradeChain('gpt-4o', ratio, new Set(['gpt-4o', 'gpt-4o-mini']), models)).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
    ]);
    expect(downgradeChain('gpt-4o', ratio, new Set(['gpt-4o']), models)).toEqual(['gpt-4o']);
  });

  it('finds the lowest ratio at which a downgrade changes the served model', () => {
    expect(downgradeAtRatio(tiered, 'gpt-4o', undefined, models)).toBe(0.8);
    expect(downgradeAtRatio(tiered, 'gpt-4o-mini', undefined, models)).toBe(0.9);
    expect(downgradeAtRatio(tiered, 'gpt-4.1-nano', undefined, models)).toBeUndefined();
    expect(downgradeAtRatio(tiered, 'gpt-4o', new Set(['gpt-4o']), models)).toBeUndefined();
  });

  it('rounds threshold amounts up, without float noise', () => {
    expect(thresholdNano(0.8, 500_000_000_000)).toBe(400_000_000_000);
    expect(thresholdNano(0.5, 3)).toBe(2);
    expect(thresholdNano(1, 7)).toBe(7);
  });
});

describe('simulateReserve', () => {
  const spec = (limitNano: number, downgradeAtNano = -1): LineSpec => ({
    instance: 'x',
    budgetId: 'x',
    period: 'p',
    previousPeriod: null,
    limitNano,
    rolloverMaxNano: 0,
    downgradeAtNano,
    ttlSeconds: 0,
  });
  const shape = { fixedPico: 1_000_000, outputPico: 10_000, requestedCap: 1000, minCap: 100 };

  it('grants the full cap, fits a lower one, or rejects below the minimum', () => {
    const full = simulateReserve({ ...shape, lines: [spec(1e9)] }, [
      { limitNano: 1e9, spentNano: 0, reservedNano: 0 },
    ]);
    expect(full).toMatchObject({ status: 'reserved', grantedCap: 1000, amountNano: 11_000 });
    const fit = simulateReserve({ ...shape, lines: [spec(6000)] }, [
      { limitNano: 6000, spentNano: 0, reservedNano: 0 },
    ]);
    expect(fit).toMatchObject({ status: 'reserved', grantedCap: 500, amountNano: 6000 });
    const no = simulateReserve({ ...shape, lines: [spec(1999)] }, [
      { limitNano: 1999, spentNano: 0, reservedNano: 0 },
    ]);
    expect(no).toMatchObject({ status: 'rejected', lineIndex: 0 });
  });

  it('asks for a downgrade before fitting', () => {
    const r = simulateReserve({ ...shape, lines: [spec(1e9), spec(100, 50)] }, [
      { limitNano: 1e9, spentNano: 0, reservedNano: 0 },
      { limitNano: 100, spentNano: 60, reservedNano: 0 },
    ]);
    expect(r).toMatchObject({ status: 'downgrade', lineIndex: 1 });
  });
});
