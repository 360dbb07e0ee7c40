/** A model with a long-context tier: a prompt past the threshold is reserved at the tier's prices. */
import { afterEach, describe, expect, it } from 'vitest';
import { pricePerMillionToPico } from '../money.js';
import { closeAll, granted, setup } from './engine.test-helpers.js';
import { budget, config, model, providers, request, standardModels } from './fixtures.test-helpers.js';

afterEach(closeAll);

function withLongContext() {
  const models = standardModels();
  const sonnet = model('sonnet-1m', providers.anthropic, 3, 15, 64_000);
  sonnet.price.longContext = {
    aboveInputTokens: 200_000,
    input: pricePerMillionToPico(6),
    output: pricePerMillionToPico(22.5),
    cachedInput: pricePerMillionToPico(6),
    cacheWrite: pricePerMillionToPico(6),
  };
  models.set(sonnet.name, sonnet);
  return config({ models, budgets: [budget({ id: 'b', limitUsd: 100 })] });
}

describe('long-context reservation', () => {
  it('at the threshold the flat prices reserve', async () => {
    const cfg = withLongContext();
    const { engine } = setup(cfg);
    const at = granted(
      await engine.admit(request(cfg, { model: 'sonnet-1m', promptTokens: 200_000, requestedCap: 1000 })),
    );
    // 200k x $3/M + 1000 x $15/M
    expect(at.estimateNano).toBe(600_000_000 + 15_000_000);
  });

  it('above the threshold the prompt and the whole output cap reserve at the tier prices', async () => {
    const cfg = withLongContext();
    const { engine } = setup(cfg);
    const above = granted(
      await engine.admit(request(cfg, { model: 'sonnet-1m', promptTokens: 200_001, requestedCap: 1000 })),
    );
    // 200001 x $6/M + 1000 x $22.50/M
    expect(above.estimateNano).toBe(1_200_006_000 + 22_500_000);
  });

  it('a model without a tier reserves a long prompt at its flat price', async () => {
    const cfg = withLongContext();
    const { engine } = setup(cfg);
    // gpt-4o: 300k x $2.50/M + 1000 x $10/M
    const flat = granted(await engine.admit(request(cfg, { promptTokens: 300_000, requestedCap: 1000 })));
    expect(flat.estimateNano).toBe(750_000_000 + 10_000_000);
  });
});
