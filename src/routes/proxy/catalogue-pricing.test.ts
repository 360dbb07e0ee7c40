/**
 * Catalogue prices through the whole stack, with the official SDKs: a model entry with a provider
 * and no prices is billed at the catalogue's price of what the mock served (+-1 nano, computed
 * independently with @pydantic/genai-prices' calcPrice), a YAML price overrides its field, and a
 * model nobody prices is refused in the client's format, naming the model, with nothing sent.
 */
import Anthropic from '@anthropic-ai/sdk';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type Stack, startStack } from '../../../test/helpers/stack.js';
import type { ServedRecord } from '../../mock/server.js';
import { NANO_PER_USD } from '../../money.js';
import { GLOBAL_BUDGET_YAML, onlyServed, recordOf } from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    modelsYaml: `  claude-opus-4-8: { provider: anthropic, max_output_tokens: 32000 }
  gpt-5-mini: { provider: openai, max_output_tokens: 16384 }
  opus-cheap-output: { provider: anthropic, upstream_model: claude-opus-4-8, output: 1, max_output_tokens: 32000 }
  mystery-model: { provider: openai }
  mystery-claude: { provider: anthropic }`,
    extraYaml: GLOBAL_BUDGET_YAML,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

/** The catalogue's own price of what the mock served, in nano-USD (a float: compared within 1 nano). */
function cataloguePriceNano(
  served: ServedRecord,
  provider: string,
  overrides: { output?: number } = {},
): number {
  const usage = served.usage;
  if (!usage) throw new Error('no usage');
  const result = calcPrice(
    {
      // The catalogue counts input_tokens as every prompt token, cache reads and writes included.
      input_tokens: usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens,
      cache_read_tokens: usage.cached_tokens,
      cache_write_tokens: usage.cache_write_tokens,
      output_tokens: usage.output_tokens,
    },
    served.model,
    { providerId: provider },
  );
  if (!result) throw new Error(`the catalogue does not price ${served.model}`);
  if (overrides.output === undefined) return result.total_price * NANO_PER_USD;
  const outputUsd = (usage.output_tokens * overrides.output) / 1e6;
  return (result.input_price + outputUsd) * NANO_PER_USD;
}

describe('catalogue pricing', () => {
  it('Anthropic SDK: claude-opus-4-8 from the catalogue, cache reads and writes included', async () => {
    const client = stack.anthropic(undefined, {
      defaultHeaders: { 'x-mock-cached-tokens': '40', 'x-mock-cache-write-tokens': '30' },
    });
    const { data, response } = await client.messages
      .create({
        model: 'claude-opus-4-8',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Hello there' }],
      })
      .withResponse();
    expect(data.type).toBe('message');
    const served = onlyServed(stack);
    expect(served.usage?.cached_tokens).toBe(40);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    const expected = cataloguePriceNano(served, 'anthropic');
    console.log(`claude-opus-4-8: booked ${record.costNano} nano, catalogue ${expected.toFixed(3)} nano`);
    expect(Math.abs(record.costNano - expected)).toBeLessThanOrEqual(1);
    expect(record.costNano).toBeGreaterThan(0);
  });

  it('OpenAI SDK: gpt-5-mini from the catalogue', async () => {
    const { response } = await stack
      .openai()
      .chat.completions.create({ model: 'gpt-5-mini', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse();
    const served = onlyServed(stack);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    const expected = cataloguePriceNano(served, 'openai');
    console.log(`gpt-5-mini: booked ${record.costNano} nano, catalogue ${expected.toFixed(3)} nano`);
    expect(Math.abs(record.costNano - expected)).toBeLessThanOrEqual(1);
  });

  it('a price written in YAML wins over the catalogue, field by field', async () => {
    const { response } = await stack
      .anthropic()
      .messages.create({
        model: 'opus-cheap-output',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .withResponse();
    const served = onlyServed(stack);
    expect(served.model).toBe('claude-opus-4-8');
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    const expected = cataloguePriceNano(served, 'anthropic', { output: 1 });
    expect(Math.abs(record.costNano - expected)).toBeLessThanOrEqual(1);
    // ...and the catalogue's $25/M output was not used.
    expect(record.costNano).toBeLessThan(cataloguePriceNano(served, 'anthropic'));
  });

  it('an unpriced model is refused in the client format, naming it; nothing goes upstream', async () => {
    const openai = stack.openai();
    const error = await openai.chat.completions
      .create({ model: 'mystery-model', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).message).toContain(
      '"mystery-model" has no price',
    );

    const claude = await stack
      .anthropic()
      .messages.create({
        model: 'mystery-claude',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((e: unknown) => e);
    expect(claude).toBeInstanceOf(Anthropic.NotFoundError);
    const body = (claude as InstanceType<typeof Anthropic.NotFoundError>).error as {
      type: string;
      error: { type: string; message: string };
    };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain('"mystery-claude" has no price');
    expect(stack.mock.served).toHaveLength(0);
  });

  it('GET /admin/models shows effective prices and their source', async () => {
    const response = await fetch(`${stack.gateway.url}/admin/models`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      catalogue_version: string;
      models: Array<{
        id: string;
        source: string;
        prices: Record<string, unknown> | null;
        catalogue_model: string | null;
      }>;
    };
    const byId = new Map(body.models.map((m) => [m.id, m]));
    expect(body.catalogue_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(byId.get('claude-opus-4-8')).toMatchObject({
      source: `catalogue@${body.catalogue_version}`,
      catalogue_model: 'claude-opus-4-8',
      prices: { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    });
    expect(byId.get('opus-cheap-output')).toMatchObject({ source: 'mixed', prices: { input: 5, output: 1 } });
    // Every price of gpt-4o is written in the stack's YAML.
    expect(byId.get('gpt-4o')).toMatchObject({
      source: 'yaml',
      catalogue_model: null,
      prices: { input: 2.5 },
    });
    expect(byId.get('mystery-model')).toMatchObject({ source: 'unpriced', prices: null });
  });
});
