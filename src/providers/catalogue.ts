/**
 * The price catalogue: @pydantic/genai-prices' data (bundled with the package, so no network at run
 * time) turned into the gateway's ModelPrice. A `models:` entry without prices is priced from it;
 * prices written in YAML override it field by field (config/model-prices.ts).
 *
 * The catalogue's shapes map onto ours as follows:
 * - `input_mtok`, `output_mtok`, `cache_read_mtok`, `cache_write_mtok` (USD per million) -> input,
 *   output, cachedInput, cacheWrite (pico-USD per token); a missing cache price is the input price,
 *   as for YAML prices.
 * - `output_reasoning_mtok`, when a model has one distinct from output: our usage bills reasoning
 *   tokens as output tokens (usage.ts), so output takes the higher of the two: never under-billed.
 * - tiered prices (`{ base, tiers: [{ start, price }] }`): the catalogue bills every token of a request
 *   at a tier's price once its prompt is more than `start` tokens, which is our `long_context` tier.
 *   We hold one tier: the first. A model with more tiers is reported (`multiTier`) so check-config says so.
 * - dated prices (a list with `start_date` or time-of-day constraints): resolved by the package for
 *   the time asked, so a request is priced at the price in force when it is admitted.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type ModelPrice as CatalogueModelPrice,
  calcPrice,
  type Provider,
  type TieredPrices,
} from '@pydantic/genai-prices';
import { pricePerMillionToPico } from '../money.js';
import type { LongContextPrice, ModelPrice } from '../usage.js';
import type { ProviderKind } from './types.js';

/** Prices in USD per million tokens, as written in YAML; the shape config/model-prices.ts merges. */
export interface PerMillionPrices {
  input?: number;
  output?: number;
  cache_read?: number;
  cache_write?: number;
  long_context?: {
    above_input_tokens: number;
    input: number;
    output: number;
    cache_read?: number;
    cache_write?: number;
  };
}

export interface CatalogueEntry {
  /** The catalogue's model id (a configured name such as claude-opus-4-8-20260101 matches claude-opus-4-8). */
  modelId: string;
  prices: PerMillionPrices;
  /** The catalogue prices this model in more than one long-context tier; only the first is used. */
  multiTier: boolean;
}

/** Our provider kinds to the catalogue's provider ids (the other kinds add theirs here). */
const CATALOGUE_PROVIDER: Partial<Record<ProviderKind | string, string>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  azure: 'azure',
};

export function catalogueProviderId(kind: string): string | undefined {
  return CATALOGUE_PROVIDER[kind];
}

function bundledVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'bundled';
  } catch {
    return 'bundled';
  }
}

const BUNDLED_VERSION = bundledVersion();
/** Lookups are cached per model and minute: dated prices change at day or time-of-day boundaries. */
const CACHE_BUCKET_MS = 60_000;

export class PriceCatalogue {
  /** Refreshed data by provider id; empty: the package's bundled data. */
  private providers = new Map<string, Provider>();
  private cache = new Map<string, CatalogueEntry | null>();
  private currentVersion = BUNDLED_VERSION;

  /** `<package version>` for the bundled data, `refresh:<ISO time>` after a refresh. */
  get version(): string {
    return this.currentVersion;
  }

  /**
   * Replaces the data with a refreshed copy (the catalogue's data.json: a list of providers). Throws
   * on data that does not look like it, leaving the last good data in place.
   */
  replace(data: unknown, version: string): void {
    if (!Array.isArray(data) || data.length === 0) throw new Error('expected a non-empty list of providers');
    const next = new Map<string, Provider>();
    for (const provider of data as Provider[]) {
      if (typeof provider?.id !== 'string' || !Array.isArray(provider.models)) {
        throw new Error('expected providers with an id and a list of models');
      }
      next.set(provider.id, normalised(provider));
    }
    // A priced lookup proves the data is usable before it replaces what works.
    for (const [id, provider] of next) {
      const sample = provider.models[0];
      if (sample) calcPrice({ input_tokens: 0 }, sample.id, { provider, providerId: id });
    }
    this.providers = next;
    this.cache.clear();
    this.currentVersion = version;
  }

  /** The catalogue's prices for a model at a time; null when the catalogue does not price it. */
  lookup(kind: string, model: string, atMs: number): CatalogueEntry | null {
    const providerId = catalogueProviderId(kind);
    if (providerId === undefined) return null;
    const key = `${providerId}\u0000${model}\u0000${Math.floor(atMs / CACHE_BUCKET_MS)}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const entry = this.resolve(providerId, model, atMs);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, entry);
    return entry;
  }

  private resolve(providerId: string, model: string, atMs: number): CatalogueEntry | null {
    const provider = this.providers.get(providerId);
    const result = calcPrice({ input_tokens: 0 }, model, {
      providerId,
      timestamp: new Date(atMs),
      ...(provider ? { provider } : {}),
    });
    if (!result || result.provider.id !== providerId) return null;
    return toEntry(result.model.id, result.model_price);
  }
}

/**
 * The raw data.json may write a start-date constraint without its `type` (the package adds it when it
 * loads data itself; calcPrice with a provider passed in expects it).
 */
function normalised(provider: Provider): Provider {
  return {
    ...provider,
    models: provider.models.map((model) =>
      Array.isArray(model.prices)
        ? {
            ...model,
            prices: model.prices.map((p) =>
              p.constraint && !('type' in p.constraint) && 'start_date' in p.constraint
                ? {
                    ...p,
                    constraint: {
                      start_date: (p.constraint as { start_date: string }).start_date,
                      type: 'start_date' as const,
                    },
                  }
                : p,
            ),
          }
        : model,
    ),
  };
}

function baseOf(price: CatalogueModelPrice[string]): number | undefined {
  if (price === undefined) return undefined;
  return typeof price === 'number' ? price : price.base;
}

function firstTier(price: CatalogueModelPrice[string]): { start: number; price: number } | undefined {
  return typeof price === 'object' ? (price as TieredPrices).tiers[0] : undefined;
}

function toEntry(modelId: string, price: CatalogueModelPrice): CatalogueEntry | null {
  const input = baseOf(price.input_mtok);
  // Without an input price the catalogue does not price this model's tokens (e.g. moderation: free).
  if (input === undefined) return null;
  const reasoning = baseOf(price.output_reasoning_mtok);
  const outputBase = baseOf(price.output_mtok);
  const output = reasoning !== undefined ? Math.max(reasoning, outputBase ?? 0) : outputBase;
  const prices: PerMillionPrices = {
    input,
    ...(output !== undefined ? { output } : {}),
    ...(baseOf(price.cache_read_mtok) !== undefined ? { cache_read: baseOf(price.cache_read_mtok) } : {}),
    ...(baseOf(price.cache_write_mtok) !== undefined ? { cache_write: baseOf(price.cache_write_mtok) } : {}),
  };
  const inputTier = firstTier(price.input_mtok);
  if (inputTier) {
    const tierOf = (p: CatalogueModelPrice[string]) => firstTier(p)?.price ?? baseOf(p);
    prices.long_context = {
      above_input_tokens: inputTier.start,
      input: inputTier.price,
      output: tierOf(price.output_mtok) ?? 0,
      ...(tierOf(price.cache_read_mtok) !== undefined ? { cache_read: tierOf(price.cache_read_mtok) } : {}),
      ...(tierOf(price.cache_write_mtok) !== undefined
        ? { cache_write: tierOf(price.cache_write_mtok) }
        : {}),
    };
  }
  const multiTier = Object.values(price).some(
    (p) => typeof p === 'object' && (p as TieredPrices).tiers.length > 1,
  );
  return { modelId, prices, multiTier };
}

/** Per-million prices (merged YAML and catalogue) to the integer pico-USD ModelPrice the gateway bills with. */
export function toModelPrice(p: PerMillionPrices): ModelPrice {
  const input = p.input ?? 0;
  return {
    input: pricePerMillionToPico(input),
    output: pricePerMillionToPico(p.output ?? 0),
    cachedInput: pricePerMillionToPico(p.cache_read ?? input),
    cacheWrite: pricePerMillionToPico(p.cache_write ?? input),
    ...(p.long_context ? { longContext: toLongContext(p.long_context) } : {}),
  };
}

function toLongContext(t: NonNullable<PerMillionPrices['long_context']>): LongContextPrice {
  return {
    aboveInputTokens: t.above_input_tokens,
    input: pricePerMillionToPico(t.input),
    output: pricePerMillionToPico(t.output),
    cachedInput: pricePerMillionToPico(t.cache_read ?? t.input),
    cacheWrite: pricePerMillionToPico(t.cache_write ?? t.input),
  };
}

/** The process's catalogue: bundled data, replaced by an opt-in refresh (catalogue-refresh.ts). */
export const defaultCatalogue = new PriceCatalogue();
