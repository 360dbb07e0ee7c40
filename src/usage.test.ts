import { describe, expect, it } from 'vitest';
import { pricePerMillionToPico } from './money.js';
import { costOfUsage, type ModelPrice, priceAt, type Usage } from './usage.js';

const flat: ModelPrice = {
  input: pricePerMillionToPico(3),
  output: pricePerMillionToPico(15),
  cachedInput: pricePerMillionToPico(0.3),
  cacheWrite: pricePerMillionToPico(3.75),
};
const tiered: ModelPrice = {
  ...flat,
  longContext: {
    aboveInputTokens: 200_000,
    input: pricePerMillionToPico(6),
    output: pricePerMillionToPico(22.5),
    cachedInput: pricePerMillionToPico(0.6),
    cacheWrite: pricePerMillionToPico(7.5),
  },
};

function usage(input: number, cached: number, write: number, output: number): Usage {
  return {
    inputTokens: input,
    cachedInputTokens: cached,
    cacheWriteTokens: write,
    outputTokens: output,
    reasoningTokens: 0,
  };
}

describe('costOfUsage', () => {
  it('without a tier, a long prompt is billed at the flat price', () => {
    // 300k x $3/M + 1000 x $15/M = $0.915
    expect(costOfUsage(usage(300_000, 0, 0, 1000), flat)).toBe(915_000_000);
  });

  it('at the threshold exactly, the flat price applies', () => {
    // 200k x $3/M + 1000 x $15/M = $0.615
    expect(costOfUsage(usage(200_000, 0, 0, 1000), tiered)).toBe(615_000_000);
  });

  it('one token above the threshold, every token is billed at the tier price', () => {
    // 200001 x $6/M + 1000 x $22.50/M = $1.200006 + $0.0225
    expect(costOfUsage(usage(200_001, 0, 0, 1000), tiered)).toBe(1_222_506_000);
  });

  it('cache reads and writes count toward the threshold and are billed at the tier cache prices', () => {
    // 100k + 60k + 40001 = 200001 prompt tokens: 100k x $6 + 60k x $0.60 + 40001 x $7.50 + 0 output
    expect(costOfUsage(usage(100_000, 60_000, 40_001, 0), tiered)).toBe(
      600_000_000 + 36_000_000 + 300_007_500,
    );
    // The same split one token lower stays flat: 100k x $3 + 60k x $0.30 + 40000 x $3.75
    expect(costOfUsage(usage(100_000, 60_000, 40_000, 0), tiered)).toBe(
      300_000_000 + 18_000_000 + 150_000_000,
    );
  });
});

describe('priceAt', () => {
  it('answers the tier past the threshold and the model price otherwise', () => {
    expect(priceAt(tiered, 200_000)).toBe(tiered);
    expect(priceAt(tiered, 200_001)).toBe(tiered.longContext);
    expect(priceAt(flat, 10_000_000)).toBe(flat);
  });
});
