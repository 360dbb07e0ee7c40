/**
 * The catalogue adapter: bundled @pydantic/genai-prices data turned into our price shape, dated
 * prices resolved at the time asked, tiers as our long_context tier, and a refresh that keeps the
 * last good data when it fails.
 */
import { findProvider } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { PriceCatalogue } from './catalogue.js';
import { refreshCatalogue } from './catalogue-refresh.js';

const JAN_2026 = Date.UTC(2026, 0, 15);
const MAY_2026 = Date.UTC(2026, 4, 15);
const silent = { info: () => {}, warn: () => {} };

describe('PriceCatalogue', () => {
  it("prices Claude Code's default model, claude-opus-4-8, and its dated snapshots", () => {
    const catalogue = new PriceCatalogue();
    const entry = catalogue.lookup('anthropic', 'claude-opus-4-8', MAY_2026);
    expect(entry?.modelId).toBe('claude-opus-4-8');
    expect(entry?.prices).toEqual({ input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 });
    expect(catalogue.lookup('anthropic', 'claude-opus-4-8-20260101', MAY_2026)?.modelId).toBe(
      'claude-opus-4-8',
    );
  });

  it('maps tiered prices onto one long_context tier (whole request past the threshold)', () => {
    const entry = new PriceCatalogue().lookup('anthropic', 'claude-sonnet-4-5', MAY_2026);
    expect(entry?.prices.long_context).toEqual({
      above_input_tokens: 200_000,
      input: 6,
      output: 22.5,
      cache_read: 0.6,
      cache_write: 7.5,
    });
    expect(entry?.multiTier).toBe(false);
  });

  it('dated prices: the price in force at the time asked', () => {
    const catalogue = new PriceCatalogue();
    // claude-opus-4-6 lost its long-context tier on 2026-03-13.
    expect(catalogue.lookup('anthropic', 'claude-opus-4-6', JAN_2026)?.prices.long_context?.input).toBe(10);
    expect(catalogue.lookup('anthropic', 'claude-opus-4-6', MAY_2026)?.prices.long_context).toBeUndefined();
    // o3's price cut of 2025-06-10.
    expect(catalogue.lookup('openai', 'o3', Date.UTC(2025, 5, 9))?.prices.input).toBe(10);
    expect(catalogue.lookup('openai', 'o3', Date.UTC(2025, 5, 10))?.prices.input).toBe(2);
  });

  it('answers null for a model it does not price, another provider, or an unknown kind', () => {
    const catalogue = new PriceCatalogue();
    expect(catalogue.lookup('openai', 'no-such-model-xyz', MAY_2026)).toBeNull();
    expect(catalogue.lookup('openai', 'claude-sonnet-4-5', MAY_2026)).toBeNull();
    expect(catalogue.lookup('bedrock-ish', 'gpt-4o', MAY_2026)).toBeNull();
    // Free models (moderation) have no token price: not "priced at $0" by the catalogue.
    expect(catalogue.lookup('openai', 'omni-moderation-latest', MAY_2026)).toBeNull();
  });
});

describe('catalogue refresh', () => {
  function providersWith(inputMtok: number): unknown {
    const anthropic = structuredClone(findProvider({ providerId: 'anthropic' }));
    if (!anthropic) throw new Error('no bundled anthropic data');
    for (const model of anthropic.models) {
      if (model.id === 'claude-opus-4-8') model.prices = { input_mtok: inputMtok, output_mtok: 50 };
    }
    return [anthropic];
  }

  function fakeFetch(answer: () => Response): typeof fetch {
    return (async () => answer()) as unknown as typeof fetch;
  }

  it('swaps in good data and versions it; a failing refresh keeps the last good data', async () => {
    const catalogue = new PriceCatalogue();
    const bundled = catalogue.version;
    const options = { url: 'https://prices.example/data.json?token=s3cret', intervalMs: 1000, catalogue };
    const ok = await refreshCatalogue({
      ...options,
      logger: silent,
      clock: () => MAY_2026,
      fetch: fakeFetch(() => Response.json(providersWith(7))),
    });
    expect(ok).toBe(true);
    expect(catalogue.version).toBe('refresh:2026-05-15T00:00:00.000Z');
    expect(catalogue.lookup('anthropic', 'claude-opus-4-8', MAY_2026)?.prices).toEqual({
      input: 7,
      output: 50,
    });
    expect(bundled).not.toBe(catalogue.version);

    const warnings: unknown[] = [];
    const logger = { info: () => {}, warn: (entry: unknown) => warnings.push(entry) };
    for (const answer of [
      () => new Response('upstream down', { status: 503 }),
      () => new Response('{not json', { status: 200 }),
      () => Response.json({ providers: 'nope' }),
      () => Response.json([{ id: 'anthropic' }]),
    ]) {
      expect(await refreshCatalogue({ ...options, logger, fetch: fakeFetch(answer) })).toBe(false);
    }
    expect(
      await refreshCatalogue({ ...options, logger, fetch: () => Promise.reject(new Error('ECONNREFUSED')) }),
    ).toBe(false);
    expect(warnings).toHaveLength(5);
    // The URL's query (a token, maybe) is not logged.
    expect(JSON.stringify(warnings)).not.toContain('s3cret');
    expect(catalogue.version).toBe('refresh:2026-05-15T00:00:00.000Z');
    expect(catalogue.lookup('anthropic', 'claude-opus-4-8', MAY_2026)?.prices.input).toBe(7);
  });
});
