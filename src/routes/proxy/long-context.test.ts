/**
 * A long-context tier through the whole stack: a prompt past the threshold (1000 tokens here) is
 * reserved and settled at the tier's prices; the 1M-context beta header is refused for a model
 * without a tier, before anything is sent upstream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { pricePerMillionToPico } from '../../money.js';
import { costOfUsage, type ModelPrice } from '../../usage.js';
import { budgetTotals, onlyServed, recordOf, usageOf } from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    modelsYaml: `  sonnet-long: { provider: anthropic, upstream_model: claude-sonnet-4-5, input: 3, output: 15, max_output_tokens: 64000, long_context: { above_input_tokens: 1000, input: 6, output: 22.5 } }
  sonnet-flat: { provider: anthropic, upstream_model: claude-sonnet-4-5, catalogue: false, input: 3, output: 15, max_output_tokens: 64000 }`,
    extraYaml: `budgets:
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const CAP = 100;
const longPrompt = 'budget '.repeat(2000);
const TIER: ModelPrice = {
  input: pricePerMillionToPico(6),
  output: pricePerMillionToPico(22.5),
  cachedInput: pricePerMillionToPico(6),
  cacheWrite: pricePerMillionToPico(6),
};

function send(model: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': TEST_KEY,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify({ model, max_tokens: CAP, messages: [{ role: 'user', content: longPrompt }] }),
  });
}

describe('long-context tier', () => {
  it('a prompt past the threshold is reserved and settled at the tier prices', async () => {
    const flat = await send('sonnet-flat');
    expect(flat.status).toBe(200);
    const flatRecord = await recordOf(stack, flat.headers.get('x-gateway-request-id'));
    // The flat reserve is prompt x 3000 + cap x 15000 nano-USD: the gateway's prompt count from it.
    const prompt = (flatRecord.estimateNano - CAP * 15_000) / 3000;
    expect(prompt).toBeGreaterThan(1000);
    stack.mock.reset();

    const long = await send('sonnet-long');
    expect(long.status).toBe(200);
    const record = await recordOf(stack, long.headers.get('x-gateway-request-id'));
    expect(record.estimateNano).toBe(prompt * 6000 + CAP * 22_500);
    const served = onlyServed(stack);
    if (!served.usage) throw new Error('no usage');
    expect(served.usage.input_tokens).toBeGreaterThan(1000);
    const tierCost = costOfUsage(usageOf(served.usage), TIER);
    expect(record.costNano).toBe(tierCost);
    // Twice the flat input price at least: the tier, not the flat price, was billed.
    expect(record.costNano).toBeGreaterThan(flatRecord.costNano);
  });

  it('the 1M-context beta on a model without a tier is a 400 naming the header, nothing sent or held', async () => {
    const before = await budgetTotals(stack);
    const response = await send('sonnet-flat', {
      'anthropic-beta': 'prompt-caching-2024-07-31, context-1m-2025-08-07',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('anthropic-beta');
    expect(body.error.message).toContain('no long-context price configured');
    expect(stack.mock.served).toHaveLength(0);
    expect(await budgetTotals(stack)).toEqual(before);
  });

  it('the beta on a model with a tier is forwarded', async () => {
    const response = await send('sonnet-long', { 'anthropic-beta': 'context-1m-2025-08-07' });
    expect(response.status).toBe(200);
    expect(stack.mock.served).toHaveLength(1);
  });
});
