/**
 * Fit-to-budget end to end, for requests that are not metered (budgeting.stream_slice_tokens 0 here;
 * metered answers are src/routes/proxy/metered.test.ts and test/e2e/utilization.test.ts): when the requested output cap does not fit but one of at least
 * budgeting.min_output_tokens does, the cap sent upstream is lowered (and said so in a header), and
 * what is served costs no more than was left; below the minimum the request is rejected (429).
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';
import { budgetById, chat, nanoOf, nanoOfNumber, PICO } from './helpers.js';

const cleanups: Stack[] = [];
afterEach(async () => {
  for (const s of cleanups.splice(0)) await s.close();
});

async function stackWithBudget(limitUsd: number, minOutputTokens?: number): Promise<Stack> {
  const stack = await startStack({
    extraYaml: `
budgets:
  - { id: web-daily, scope: { team: web }, limit_usd: ${limitUsd}, period: daily }
budgeting: { stream_slice_tokens: 0${minOutputTokens === undefined ? '' : `, min_output_tokens: ${minOutputTokens}`} }
`,
  });
  cleanups.push(stack);
  return stack;
}

async function estimate(stack: Stack, body: Record<string, unknown>) {
  const response = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-gw-test-key-alpha', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as {
    prompt_tokens: number;
    max_output_tokens: number | null;
    clamped?: boolean;
    allowed: boolean;
    estimated_usd: number | null;
  };
}

const PRICE = PICO['gpt-4o'];
const MESSAGES = [{ role: 'user', content: 'Write the longest story you can.' }];

describe('fit-to-budget', () => {
  it('lowers the output cap to what is left, and the served cost stays within it', async () => {
    const stack = await stackWithBudget(0.01);
    const before = await budgetById(stack, 'web-daily');
    const leftNano = nanoOfNumber(before.remaining_usd);
    expect(leftNano).toBe(10_000_000);

    const preview = await estimate(stack, { model: 'gpt-4o', max_tokens: 16000, messages: MESSAGES });
    expect(preview.allowed).toBe(true);
    expect(preview.clamped).toBe(true);
    // The largest cap whose worst case fits: prompt x input price + cap x output price <= what is left.
    const fitted = Math.floor((leftNano * 1000 - preview.prompt_tokens * PRICE.input) / PRICE.output);
    expect(preview.max_output_tokens).toBe(fitted);
    expect(fitted).toBeGreaterThan(256);
    expect(fitted).toBeLessThan(16000);

    // The mock writes as much as the cap allows: the worst case really happens.
    const { headers, data } = await chat(stack.openai(), 'gpt-4o', {
      maxTokens: 16000,
      outputTokens: 100_000,
      content: MESSAGES[0]!.content,
    });
    expect(headers.get('x-gateway-max-tokens-clamped')).toBe(String(fitted));
    const upstream = stack.mock.served.at(-1)!;
    expect((upstream.body as { max_tokens: number }).max_tokens).toBe(fitted);
    expect(upstream.usage?.output_tokens).toBe(fitted);
    expect(data.usage?.completion_tokens).toBe(fitted);
    const cost = nanoOf(headers.get('x-gateway-cost-usd'));
    expect(cost).toBeLessThanOrEqual(leftNano);
    expect(cost).toBeGreaterThan(leftNano - PRICE.output / 1000 - 1);

    const after = await budgetById(stack, 'web-daily');
    expect(nanoOfNumber(after.spent_usd)).toBe(cost);
    expect(nanoOfNumber(after.spent_usd)).toBeLessThanOrEqual(nanoOfNumber(after.limit_usd));
    expect(nanoOf(headers.get('x-gateway-budget-remaining-usd'))).toBe(leftNano - cost);

    // What is left now affords less than min_output_tokens: rejected, and the provider never asked.
    const served = stack.mock.served.length;
    const error = await chat(stack.openai(), 'gpt-4o', { maxTokens: 16000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(429);
    expect(apiError.code).toBe('budget_exceeded');
    expect(apiError.headers?.get('x-should-retry')).toBe('false');
    expect(Number(apiError.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(apiError.message).toContain('web-daily');
    expect(stack.mock.served.length).toBe(served);
  });

  it('rejects below min_output_tokens, yet serves a smaller explicit cap that fits', async () => {
    const stack = await stackWithBudget(0.0035, 300);
    // Fits at 300+ tokens: clamped, served.
    const first = await chat(stack.openai(), 'gpt-4o', { maxTokens: 1000, outputTokens: 100 });
    const firstCap = Number(first.headers.get('x-gateway-max-tokens-clamped'));
    expect(firstCap).toBeGreaterThanOrEqual(300);
    expect(firstCap).toBeLessThan(1000);
    const left = nanoOfNumber((await budgetById(stack, 'web-daily')).remaining_usd);
    // Now fewer than 300 output tokens fit: asking for 1000 is rejected rather than cut below 300 ...
    expect(left).toBeLessThan(300 * (PRICE.output / 1000));
    const rejected = await chat(stack.openai(), 'gpt-4o', { maxTokens: 1000 }).catch((e: unknown) => e);
    expect((rejected as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    // ... but a request that asks for a cap below the minimum and fits is served as asked.
    const small = await chat(stack.openai(), 'gpt-4o', { maxTokens: 150, outputTokens: 150 });
    expect(small.headers.get('x-gateway-max-tokens-clamped')).toBeNull();
    expect((stack.mock.served.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(150);
    expect(nanoOf(small.headers.get('x-gateway-cost-usd'))).toBeLessThanOrEqual(left);
  });

  it('sets a cap on a request without one, so output can never cost more than was reserved', async () => {
    const stack = await stackWithBudget(0.01);
    const { headers } = await chat(stack.openai(), 'gpt-4o', { outputTokens: 100_000 });
    const cap = Number(headers.get('x-gateway-max-tokens-clamped'));
    expect(cap).toBeGreaterThan(256);
    expect((stack.mock.served.at(-1)!.body as { max_tokens: number }).max_tokens).toBe(cap);
    expect(nanoOf(headers.get('x-gateway-cost-usd'))).toBeLessThanOrEqual(10_000_000);
  });
});
