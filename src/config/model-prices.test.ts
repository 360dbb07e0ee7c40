/**
 * Effective prices: YAML over catalogue field by field, the source named, the price in force at the
 * clock's time (dated catalogue prices), unpriced models kept out of `models` and listed.
 */
import { describe, expect, it } from 'vitest';
import { pricePerMillionToPico } from '../money.js';
import { PriceCatalogue } from '../providers/catalogue.js';
import { compileConfig } from './compile.js';
import { configSchema } from './schema.js';
import { unpricedModelsLine } from './unpriced.js';

const JAN_2026 = Date.UTC(2026, 0, 15);
const MAY_2026 = Date.UTC(2026, 4, 15);

function compile(models: Record<string, unknown>, clock: () => number = () => MAY_2026) {
  const file = configSchema.parse({
    providers: {
      anthropic: { kind: 'anthropic', base_url: 'https://api.anthropic.com' },
      openai: { kind: 'openai', base_url: 'https://api.openai.com/v1' },
    },
    models,
  });
  const { config, problems } = compileConfig(file, { catalogue: new PriceCatalogue(), clock });
  expect(problems).toEqual([]);
  return config;
}

describe('model prices', () => {
  it('a model with no prices is priced from the catalogue; a YAML field wins over its catalogue field', () => {
    const config = compile({
      'claude-opus-4-8': { provider: 'anthropic' },
      'opus-own-cache': { provider: 'anthropic', upstream_model: 'claude-opus-4-8', cache_read: 0.25 },
    });
    const plain = config.models.get('claude-opus-4-8');
    expect(plain?.price).toEqual({
      input: pricePerMillionToPico(5),
      output: pricePerMillionToPico(25),
      cachedInput: pricePerMillionToPico(0.5),
      cacheWrite: pricePerMillionToPico(6.25),
    });
    expect(plain?.pricing?.effective().source).toMatch(/^catalogue@/);
    const mixed = config.models.get('opus-own-cache');
    expect(mixed?.price.cachedInput).toBe(pricePerMillionToPico(0.25));
    expect(mixed?.price.output).toBe(pricePerMillionToPico(25));
    expect(mixed?.pricing?.effective().source).toBe('mixed');
  });

  it('catalogue: false keeps a YAML-only price (nothing merged in)', () => {
    const config = compile({
      flat: {
        provider: 'anthropic',
        upstream_model: 'claude-sonnet-4-5',
        catalogue: false,
        input: 3,
        output: 15,
      },
      merged: { provider: 'anthropic', upstream_model: 'claude-sonnet-4-5', input: 3, output: 15 },
    });
    expect(config.models.get('flat')?.price.longContext).toBeUndefined();
    expect(config.models.get('flat')?.price.cachedInput).toBe(pricePerMillionToPico(3));
    expect(config.models.get('merged')?.price.longContext?.aboveInputTokens).toBe(200_000);
  });

  it('dated prices: each read is the price in force at the clock time', () => {
    let now = JAN_2026;
    const config = compile({ 'claude-opus-4-6': { provider: 'anthropic' } }, () => now);
    const model = config.models.get('claude-opus-4-6');
    expect(model?.price.longContext?.input).toBe(pricePerMillionToPico(10));
    now = MAY_2026;
    expect(model?.price.longContext).toBeUndefined();
    expect(model?.price.input).toBe(pricePerMillionToPico(5));
  });

  it('a model with no price anywhere is left out of models and listed, never priced at $0', () => {
    const config = compile({
      'not-in-any-catalogue': { provider: 'openai' },
      'cheap-embed': { provider: 'openai', input: 0.01 },
    });
    expect(config.models.has('not-in-any-catalogue')).toBe(false);
    expect(config.unpricedModels?.get('not-in-any-catalogue')).toBe('openai');
    expect(unpricedModelsLine(config)).toContain('not-in-any-catalogue');
    // Only input written, no catalogue entry: output 0, as before the catalogue (embeddings).
    expect(config.models.get('cheap-embed')?.price.output).toBe(0);
    expect(config.models.get('cheap-embed')?.pricing?.effective().source).toBe('yaml');
  });
});
