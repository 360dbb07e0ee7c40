/**
 * GET /admin/models: every configured model with the prices it is billed at now and where they came
 * from: `yaml` (all written in the config), `catalogue@<version>` (all from @pydantic/genai-prices),
 * `mixed` (YAML fields over catalogue ones). Models nobody prices are listed too, as `unpriced`:
 * their requests are refused, and this is where an admin finds out why.
 */
import { z } from 'zod';
import type { RuntimeConfig } from '../../config/runtime.js';
import { defaultCatalogue } from '../../providers/catalogue.js';
import { type AdminRoute, commonErrors, mountRoute } from './shared/route.js';
import type { AdminServices } from './shared/services.js';

const perMillion = z.number().describe('USD per million tokens');

const tier = z.object({
  above_input_tokens: z.number().int(),
  input: perMillion,
  output: perMillion,
  cache_read: perMillion.optional(),
  cache_write: perMillion.optional(),
});

const modelJson = z.object({
  id: z.string(),
  provider: z.string(),
  upstream_model: z.string(),
  source: z
    .string()
    .describe('yaml | catalogue@<version> | mixed (YAML fields over the catalogue) | unpriced (refused)'),
  catalogue_model: z.string().nullable().describe('The catalogue entry the model was matched to.'),
  prices: z
    .object({
      input: perMillion,
      output: perMillion,
      cache_read: perMillion,
      cache_write: perMillion,
      long_context: tier.optional(),
    })
    .nullable(),
  max_output_tokens: z.number().int().nullable(),
});

const modelsAnswer = z.object({
  catalogue_version: z.string(),
  models: z.array(modelJson),
});

export function modelsView(config: RuntimeConfig, catalogueVersion: string): z.infer<typeof modelsAnswer> {
  const models: z.infer<typeof modelJson>[] = [];
  for (const model of config.models.values()) {
    const effective = model.pricing?.effective();
    const p = effective?.prices ?? {};
    const input = p.input ?? 0;
    models.push({
      id: model.name,
      provider: model.provider.name,
      upstream_model: model.upstreamModel,
      source: effective?.source ?? 'yaml',
      catalogue_model: effective?.catalogueModel ?? null,
      prices: {
        input,
        output: p.output ?? 0,
        // What the gateway bills: a missing cache price is the input price.
        cache_read: p.cache_read ?? input,
        cache_write: p.cache_write ?? input,
        ...(p.long_context ? { long_context: p.long_context } : {}),
      },
      max_output_tokens: model.maxOutputTokens ?? null,
    });
  }
  for (const [name, provider] of config.unpricedModels ?? []) {
    models.push({
      id: name,
      provider,
      upstream_model: name,
      source: 'unpriced',
      catalogue_model: null,
      prices: null,
      max_output_tokens: null,
    });
  }
  return { catalogue_version: catalogueVersion, models };
}

export const listModels: AdminRoute<Pick<AdminServices, 'config'>> = {
  doc: {
    method: 'get',
    path: '/admin/models',
    summary:
      "Every configured model with its effective prices now (USD per million tokens) and their source: yaml, catalogue@<version>, mixed, or unpriced (refused). YAML prices override the catalogue's field by field.",
    response: modelsAnswer,
    errors: { 401: commonErrors[401] },
  },
  register(admin, { config }) {
    mountRoute(admin, listModels.doc, (c) => c.json(modelsView(config(), defaultCatalogue.version)));
  },
};
