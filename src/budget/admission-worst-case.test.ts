/**
 * The reserve covers every output sequence (n choices, best_of x prompts): the engine prices
 * `cap x outputMultiplier` output tokens, fit-to-budget lowers the per-sequence cap, and a worst
 * case past 2^53 pico-USD is capped to stay exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { usdToNano } from '../money.js';
import { closeAll, granted, setup } from './engine.test-helpers.js';
import { budget, config, request } from './fixtures.test-helpers.js';

afterEach(closeAll);

describe('output multiplier', () => {
  it('reserves the cap for every sequence and fits the per-sequence cap to the budget', async () => {
    const cfg = config({ budgets: [budget({ id: 'small', limitUsd: 1 })] });
    const { engine } = setup(cfg);
    // gpt-4o: 1000 prompt tokens at $2.50/M, 10 x 300 output tokens at $10/M.
    const ten = granted(await engine.admit(request(cfg, { requestedCap: 300, outputMultiplier: 10 })));
    expect(ten).toMatchObject({ outputCap: 300, reservedOutputTokens: 3000, clamped: false });
    expect(ten.estimateNano).toBe(2_500_000 + 30_000_000);
    // $1 - $0.0325 left: 128 sequences of 16384 do not fit, the per-choice cap is lowered.
    const many = granted(await engine.admit(request(cfg, { outputMultiplier: 128 })));
    expect(many.clamped).toBe(true);
    expect(many.reservedOutputTokens).toBe((many.outputCap ?? 0) * 128);
    expect(many.estimateNano).toBeLessThanOrEqual(usdToNano(1) - ten.estimateNano);
    expect(many.estimateNano).toBe(2_500_000 + (many.outputCap ?? 0) * 128 * 10_000);
  });

  it('keeps the worst case a safe integer: the cap is lowered until it is', async () => {
    const cfg = config({ budgets: [budget({ id: 'huge', limitUsd: 100_000 })] });
    const { engine } = setup(cfg);
    // 200,000 sequences x 16384 tokens x 10^7 pico-USD would be 3.3e16 pico, past 2^53.
    const batch = granted(await engine.admit(request(cfg, { outputMultiplier: 200_000 })));
    const outputPico = 200_000 * 10_000_000;
    expect(batch.outputCap).toBe(Math.floor((Number.MAX_SAFE_INTEGER - 1000 * 2_500_000) / outputPico));
    expect(batch.clamped).toBe(false);
    expect(Number.isSafeInteger(batch.estimateNano * 1000)).toBe(true);
  });

  it('reserves no output for outputless APIs whatever the multiplier says', async () => {
    const cfg = config({ budgets: [budget({ id: 'b', limitUsd: 1 })] });
    const { engine } = setup(cfg);
    const embed = granted(
      await engine.admit(
        request(cfg, {
          model: 'text-embedding-3-small',
          outputless: true,
          outputMultiplier: 5,
          promptTokens: 5000,
        }),
      ),
    );
    expect(embed).toMatchObject({ outputCap: undefined, reservedOutputTokens: 0, estimateNano: 100_000 });
  });
});
