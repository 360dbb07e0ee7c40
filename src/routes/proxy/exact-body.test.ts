/**
 * What goes upstream is what was checked and reserved for (issue 12, Build 2): a body with a key
 * twice is refused before anything is reserved or sent; chat with both cap fields sends both at
 * the cap that was reserved for; n choices are reserved as n.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { budgetTotals, GLOBAL_BUDGET_YAML, onlyServed, recordOf } from './stack.test-helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ extraYaml: GLOBAL_BUDGET_YAML, mock: { outputTokens: 50_000 } });
});
afterAll(async () => stack?.close());
beforeEach(() => stack.mock.reset());

function post(path: string, body: string): Promise<Response> {
  return fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
    body,
  });
}

describe('duplicate keys', () => {
  it.each([
    [
      'model',
      '{"model":"gpt-4o","model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}',
    ],
    [
      'max_tokens',
      '{"model":"gpt-4o-mini","max_tokens":16000,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}',
    ],
    [
      'messages[0].content',
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a","content":"b"}]}',
    ],
    [
      'mod\\u0065l',
      '{"model":"gpt-4o","mod\\u0065l":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    ],
  ])('%s twice: 400 naming it, nothing reserved, nothing sent', async (field, body) => {
    const before = await budgetTotals(stack);
    const response = await post('/v1/chat/completions', body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { type: string; param: string } }).error;
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe(field === 'mod\\u0065l' ? 'model' : field);
    expect(stack.mock.served).toHaveLength(0);
    expect(await budgetTotals(stack)).toEqual(before);
  });

  it('is refused by /v1/cost/estimate too', async () => {
    const response = await post(
      '/v1/cost/estimate',
      '{"model":"gpt-4o","model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe('model');
  });
});

describe('both chat cap fields', () => {
  const body = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Tell me a story.' }],
    max_completion_tokens: 300,
    max_tokens: 1200,
  };

  it('both carry the cap reserved for, and the mock bills within it', async () => {
    const estimate = (await (await post('/v1/cost/estimate', JSON.stringify(body))).json()) as {
      estimated_usd: number;
      max_output_tokens: number;
    };
    expect(estimate.max_output_tokens).toBe(1200);
    const response = await post('/v1/chat/completions', JSON.stringify(body));
    expect(response.status).toBe(200);
    await response.text();
    const served = onlyServed(stack).body as Record<string, unknown>;
    expect(served.max_tokens).toBe(1200);
    expect(served.max_completion_tokens).toBe(1200);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.estimateNano / 1e9).toBe(estimate.estimated_usd);
    expect(record.outputTokens).toBe(1200);
    expect(record.costNano).toBeLessThanOrEqual(record.estimateNano);
  });

  it('a cap lowered to fit the budget goes into both', async () => {
    const tight = await startStack({
      // Metering off: a metered request holds a slice and sends its whole cap (fit-to-budget is
      // for requests that reserve their whole cap up front).
      extraYaml:
        'budgets:\n  - { id: tight, scope: global, limit_usd: 0.0002 }\nbudgeting: { stream_slice_tokens: 0 }\n',
      mock: { outputTokens: 50_000 },
    });
    try {
      const response = await fetch(`${tight.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ ...body, max_tokens: 16000 }),
      });
      expect(response.status).toBe(200);
      await response.text();
      const clamped = Number(response.headers.get('x-gateway-max-tokens-clamped'));
      expect(clamped).toBeGreaterThan(0);
      expect(clamped).toBeLessThan(16000);
      const served = onlyServed(tight).body as Record<string, unknown>;
      expect(served).toMatchObject({ max_tokens: clamped, max_completion_tokens: clamped });
      const record = await recordOf(tight, response.headers.get('x-gateway-request-id'));
      expect(record.outputTokens).toBe(clamped);
      expect(record.costNano).toBeLessThanOrEqual(record.estimateNano);
      expect(record.estimateNano).toBeLessThanOrEqual(200_000);
    } finally {
      await tight.close();
    }
  });
});

describe('n choices', () => {
  it('are reserved as n and the mock bills n', async () => {
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      n: 4,
      max_tokens: 100,
    };
    const response = await post('/v1/chat/completions', JSON.stringify(request));
    expect(response.status).toBe(200);
    await response.text();
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.outputTokens).toBe(400);
    // 400 output tokens at $0.60/M are 240,000 nano-USD; the prompt comes on top.
    expect(record.estimateNano).toBeGreaterThanOrEqual(240_000 + record.inputTokens * 150);
    expect(record.costNano).toBeLessThanOrEqual(record.estimateNano);
  });
});
