/**
 * Provider failures: errors relayed with their status and body (and the reservation released),
 * an unreachable provider answers 502, one that does not answer in time 504, one without a key 502.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/helpers/ports.js';
import { eventually, OPENAI_UPSTREAM_KEY, type Stack, TEST_KEY } from '../../../test/helpers/stack.js';
import { injectedError } from '../../mock/errors.js';
import { formatUsd, usdToNano } from '../../money.js';
import {
  addToSection,
  budgetTotals,
  GLOBAL_BUDGET_YAML,
  onlyServed,
  recordOf,
  startEditedStack,
} from './stack.test-helpers.js';

let stack: Stack;
let deadPort: number;

beforeAll(async () => {
  deadPort = await freePort();
  stack = await startEditedStack(
    (yaml) => {
      const mockUrl = /openai: \{ kind: openai, base_url: "([^"]+)\/v1"/.exec(yaml)?.[1];
      if (!mockUrl) throw new Error('mock url not found');
      const withProviders = addToSection(
        yaml,
        'providers',
        `  dead: { kind: openai, base_url: "http://127.0.0.1:${deadPort}/v1", api_key: "${OPENAI_UPSTREAM_KEY}", timeouts: { connect_ms: 2000 } }
  slow: { kind: openai, base_url: "${mockUrl}/v1", api_key: "${OPENAI_UPSTREAM_KEY}", timeouts: { headers_ms: 300, body_ms: 300 } }
  keyless: { kind: openai, base_url: "${mockUrl}/v1", api_key: "" }`,
      );
      return addToSection(
        withProviders,
        'models',
        `  gpt-4o-dead: { provider: dead, upstream_model: gpt-4o, input: 2.50, output: 10.00, max_output_tokens: 16384 }
  gpt-4o-slow: { provider: slow, upstream_model: gpt-4o, input: 2.50, output: 10.00, max_output_tokens: 16384 }
  gpt-4o-keyless: { provider: keyless, upstream_model: gpt-4o, input: 2.50, output: 10.00, max_output_tokens: 16384 }`,
      );
    },
    { extraYaml: GLOBAL_BUDGET_YAML },
  );
});
afterAll(async () => {
  await stack?.close();
});
let before: { spent: number; reserved: number };
beforeEach(async () => {
  stack.mock.reset();
  before = await budgetTotals(stack);
});

/** Settles and releases finish after the answer: waits until nothing is reserved and nothing more spent. */
async function expectBudgetsUnmoved() {
  await eventually(async () =>
    expect(await budgetTotals(stack)).toEqual({ spent: before.spent, reserved: 0 }),
  );
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 20 };
const message = {
  model: 'claude-haiku-4-5',
  messages: [{ role: 'user' as const, content: 'hi' }],
  max_tokens: 20,
};

async function expectNothingSpent(requestId: string | null) {
  const record = await recordOf(stack, requestId);
  expect(record.settlement).toBe('released');
  expect(record.costNano).toBe(0);
  await expectBudgetsUnmoved();
  return record;
}

describe('provider errors are relayed with their status and body', () => {
  it.each([429, 500, 503])('OpenAI %i: same status, same body, nothing spent', async (status) => {
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-fail': `status:${status}`,
      },
      body: JSON.stringify(chat),
    });
    const served = onlyServed(stack);
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual(injectedError('openai', status, served.requestId).body);
    expect(response.headers.get('x-request-id')).toBe(served.requestId);
    if (status === 429) expect(response.headers.get('retry-after')).toBe('1');
    // The reservation was given back: the remaining shown is what the budget has, not less.
    expect(response.headers.get('x-gateway-budget-id')).toBe('all-spend');
    expect(response.headers.get('x-gateway-budget-remaining-usd')).toBe(
      formatUsd(usdToNano(1000) - usdToNano(before.spent)),
    );
    const record = await expectNothingSpent(response.headers.get('x-gateway-request-id'));
    expect(record.status).toBe(status);
  });

  it('Anthropic 529 overloaded: same status and body, nothing spent', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': TEST_KEY,
        'anthropic-version': '2023-06-01',
        'x-mock-fail': 'status:529',
      },
      body: JSON.stringify(message),
    });
    const served = onlyServed(stack);
    expect(response.status).toBe(529);
    expect(await response.json()).toEqual(injectedError('anthropic', 529, served.requestId).body);
    await expectNothingSpent(response.headers.get('x-gateway-request-id'));
  });

  it('the SDKs classify relayed errors as they would the provider itself', async () => {
    const rateLimited = await stack
      .openai()
      .chat.completions.create(chat, { headers: { 'x-mock-fail': 'status:429' } })
      .catch((e: unknown) => e);
    expect(rateLimited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(rateLimited).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });

    const overloaded = await stack
      .anthropic()
      .messages.create(message, { headers: { 'x-mock-fail': 'status:529' } })
      .catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.InternalServerError);
    expect(overloaded).toMatchObject({ status: 529, type: 'overloaded_error' });

    const streamFailed = await stack
      .anthropic()
      .messages.stream(message, { headers: { 'x-mock-fail': 'status:500' } })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(streamFailed).toBeInstanceOf(Anthropic.InternalServerError);
    await expectBudgetsUnmoved();
  });
});

describe('provider unreachable, slow or not configured', () => {
  it('unreachable provider: 502 provider_unreachable, nothing spent', async () => {
    const error = await stack
      .openai()
      .chat.completions.create({ ...chat, model: 'gpt-4o-dead' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ status: 502, code: 'provider_unreachable', type: 'server_error' });
    const requestId =
      (error as InstanceType<typeof OpenAI.APIError>).headers?.get('x-gateway-request-id') ?? null;
    await expectNothingSpent(requestId);
  });

  it('no response headers within timeouts.headers_ms: 504 provider_timeout, upstream abandoned', async () => {
    const started = Date.now();
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-fail': 'slow-first-byte:10000',
      },
      body: JSON.stringify({ ...chat, model: 'gpt-4o-slow' }),
    });
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('provider_timeout');
    // Generous bound: far below the 10 s the mock would have waited.
    expect(Date.now() - started).toBeLessThan(5000);
    const served = onlyServed(stack);
    await eventually(() => expect(served.clientClosedAt).not.toBeNull());
    await expectNothingSpent(response.headers.get('x-gateway-request-id'));
  });

  it('a stream that goes silent past timeouts.body_ms ends cleanly for the client; what came is billed', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-output-tokens': '10',
        'x-mock-chunk-delay-ms': '5000',
      },
      body: JSON.stringify({ ...chat, model: 'gpt-4o-slow', stream: true }),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    // The first content chunk came before the silence; the stream then ended without [DONE].
    expect(body).toContain('"content":"Hello"');
    expect(body).not.toContain('[DONE]');
    const served = onlyServed(stack);
    await eventually(() => expect(served.clientClosedAt).not.toBeNull());
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.settlement).toBe('counted');
    expect(record.outputTokens).toBe(1);
    expect(record.costNano).toBeGreaterThan(0);
    await eventually(async () => expect((await budgetTotals(stack)).reserved).toBe(0));
  });

  it('a provider without an API key: 502 naming the provider, the provider is not called', async () => {
    const error = await stack
      .openai()
      .chat.completions.create({ ...chat, model: 'gpt-4o-keyless' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'provider_not_configured' });
    expect((error as Error).message).toContain('keyless');
    expect(stack.mock.served).toHaveLength(0);
    await expectBudgetsUnmoved();
  });
});
