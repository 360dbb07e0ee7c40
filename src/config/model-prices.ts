/**
 * A model's effective prices: its YAML prices over the catalogue's (src/providers/catalogue.ts),
 * field by field. A field written in YAML always wins; a field left out comes from the catalogue;
 * a model with no input price in either is unpriced, and refused rather than served at $0.
 *
 * Catalogue prices can be dated (and refreshed), so a model priced from the catalogue resolves its
 * price when it is read, at the clock's time: each request is reserved and settled at the price in
 * force when it runs, not at the price of the day the config was loaded.
 */
import {
  type CatalogueEntry,
  defaultCatalogue,
  type PerMillionPrices,
  type PriceCatalogue,
  toModelPrice,
} from '../providers/catalogue.js';
import type { ModelPrice } from '../usage.js';
import type { ConfigFile } from './schema.js';

type ModelConfig = ConfigFile['models'][string];

export interface PricingOptions {
  catalogue?: PriceCatalogue;
  /** Read whenever a catalogue-priced model's price is read; Date.now by default. */
  clock?: () => number;
}

/** Where a model's effective prices come from. */
export type PriceSource = 'yaml' | `catalogue@${string}` | 'mixed';

export interface EffectivePrices {
  source: PriceSource;
  /** USD per million tokens, as YAML writes them. */
  prices: PerMillionPrices;
  /** The catalogue model the prices were matched to, when the catalogue priced any field. */
  catalogueModel?: string;
}

export interface ModelPricing {
  /** The price in force now (the clock's time). */
  price(): ModelPrice;
  /** What /admin/models shows: the effective prices now and their source. */
  effective(): EffectivePrices;
  /** The catalogue holds more than one long-context tier for this model; only the first is used. */
  multiTier: boolean;
}

/** The YAML entry's own prices, in the catalogue's field names (cached_input is cache_read). */
export function yamlPrices(m: ModelConfig): PerMillionPrices {
  const lc = m.long_context;
  return defined({
    input: m.input,
    output: m.output,
    cache_read: m.cached_input ?? m.cache_read,
    cache_write: m.cache_write,
    long_context: lc
      ? defined({
          above_input_tokens: lc.above_input_tokens,
          input: lc.input,
          output: lc.output,
          cache_read: lc.cached_input ?? lc.cache_read,
          cache_write: lc.cache_write,
        })
      : undefined,
  }) as PerMillionPrices;
}

function defined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function merge(yaml: PerMillionPrices, entry: CatalogueEntry | null, version: string): EffectivePrices {
  if (!entry) return { source: 'yaml', prices: yaml };
  const prices = { ...entry.prices, ...yaml };
  const fromCatalogue = Object.keys(entry.prices).some((field) => !(field in yaml));
  const fromYaml = Object.keys(yaml).length > 0;
  const source: PriceSource = !fromCatalogue ? 'yaml' : fromYaml ? 'mixed' : `catalogue@${version}`;
  return { source, prices, ...(fromCatalogue ? { catalogueModel: entry.modelId } : {}) };
}

/**
 * The pricing of one configured model; null when neither YAML nor the catalogue gives it an input
 * price (the caller lists it as unpriced). `kind` is the provider's kind (which catalogue provider to ask).
 */
export function modelPricing(
  kind: string,
  name: string,
  m: ModelConfig,
  options: PricingOptions = {},
): ModelPricing | null {
  const catalogue = options.catalogue ?? defaultCatalogue;
  const clock = options.clock ?? Date.now;
  const yaml = yamlPrices(m);
  // The provider bills the name sent upstream; a gateway alias may be no catalogue name at all.
  const lookupNames = m.upstream_model && m.upstream_model !== name ? [m.upstream_model, name] : [name];
  const lookup = (atMs: number) => {
    if (!m.catalogue) return null;
    for (const candidate of lookupNames) {
      const entry = catalogue.lookup(kind, candidate, atMs);
      if (entry) return entry;
    }
    return null;
  };
  const first = lookup(clock());
  const initial = merge(yaml, first, catalogue.version);
  if (initial.prices.input === undefined) return null;
  if (initial.source === 'yaml') {
    const fixed = toModelPrice(initial.prices);
    return { price: () => fixed, effective: () => initial, multiTier: false };
  }
  // Catalogue-backed: resolved per read (lookups are cached, so a read is a map hit). The last good
  // answer stays when a refresh drops the model.
  let last = {
    entry: first,
    version: catalogue.version,
    effective: initial,
    price: toModelPrice(initial.prices),
  };
  const current = () => {
    const entry = lookup(clock());
    if (!entry || (entry === last.entry && catalogue.version === last.version)) return last;
    const effective = merge(yaml, entry, catalogue.version);
    last = { entry, version: catalogue.version, effective, price: toModelPrice(effective.prices) };
    return last;
  };
  return {
    price: () => current().price,
    effective: () => current().effective,
    multiTier: first?.multiTier ?? false,
  };
}
