/**
 * Threshold downgrades end to end: a team budget passes 80% and from then on the provider is asked
 * for the cheaper model, and the client (official SDKs) sees the downgrade headers. Chaining and the
 * key's allowed models are honoured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../helpers/stack.js';
import { chat, nanoOf, PICO, usedRatio } from './helpers.js';

const LIMITED_KEY = 'sk-gw-test-key-only-4o';

const CONFIG = `
budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 0.01
    period: monthly
    thresholds:
      - { at: 0.5, alert: true, downgrade: { o3-mini: gpt-4o } }
      - { at: 0.8, alert: true, downgrade: { gpt-4o: gpt-4o-mini, claude-sonnet-4-5: claude-haiku-4-5 } }
`;

describe('downgrade past a threshold', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      keysYaml: `keys:
  - { id: alpha, key: "${TEST_KEY}", team: web, user: alice }
  - { id: only-4o, key: "${LIMITED_KEY}", team: web, models: [gpt-4o, o3-mini] }`,
      extraYaml: CONFIG,
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves the cheaper model from 80% on, chains mappings, and keeps to the key’s models', async () => {
    const client = stack.openai();
    const served: Array<{ ratio: number; requested: string; model: string; from: string | null }> = [];
    let checkedMidChain = false;
    let checkedLimitedKey = false;
    for (let i = 0; i < 12; i++) {
      const ratio = await usedRatio(stack, 'web-monthly');
      // Between 50% and 80%, only the first mapping applies: o3-mini -> gpt-4o.
      if (ratio >= 0.5 && ratio < 0.8 && !checkedMidChain) {
        checkedMidChain = true;
        const { headers } = await chat(client, 'o3-mini', { maxTokens: 20, outputTokens: 20 });
        expect(headers.get('x-gateway-model')).toBe('gpt-4o');
        expect(headers.get('x-gateway-downgraded-from')).toBe('o3-mini');
        continue;
      }
      if (ratio >= 0.8 && !checkedLimitedKey) {
        checkedLimitedKey = true;
        // A key that may not use gpt-4o-mini keeps gpt-4o: the downgrade never serves a forbidden model.
        const limited = await chat(stack.openai(LIMITED_KEY), 'gpt-4o', { maxTokens: 10, outputTokens: 10 });
        expect(limited.headers.get('x-gateway-model')).toBe('gpt-4o');
        expect(limited.headers.get('x-gateway-downgraded-from')).toBeNull();
        expect(stack.mock.served.at(-1)?.model).toBe('gpt-4o');
      }
      const { data, headers } = await chat(client, 'gpt-4o', { maxTokens: 200, outputTokens: 200 });
      served.push({
        ratio,
        requested: 'gpt-4o',
        model: headers.get('x-gateway-model') ?? '',
        from: headers.get('x-gateway-downgraded-from'),
      });
      const upstream = stack.mock.served.at(-1);
      expect(upstream?.model).toBe(ratio >= 0.8 ? 'gpt-4o-mini' : 'gpt-4o');
      expect(data.model).toBe(upstream?.model);
      // The cost is the served model's price for what the mock reported.
      const usage = upstream?.usage;
      const price = PICO[upstream?.model as 'gpt-4o' | 'gpt-4o-mini'];
      const expected = Math.ceil(
        ((usage?.input_tokens ?? 0) * price.input + (usage?.output_tokens ?? 0) * price.output) / 1000,
      );
      expect(nanoOf(headers.get('x-gateway-cost-usd'))).toBe(expected);
    }
    expect(checkedMidChain).toBe(true);
    expect(checkedLimitedKey).toBe(true);
    const firstDowngraded = served.findIndex((s) => s.model === 'gpt-4o-mini');
    expect(firstDowngraded).toBeGreaterThan(0);
    // Before: gpt-4o with no downgrade header; from the first downgrade on, gpt-4o-mini every time.
    for (const [i, s] of served.entries()) {
      if (i < firstDowngraded) {
        expect(s).toMatchObject({ model: 'gpt-4o', from: null });
        expect(s.ratio).toBeLessThan(0.8);
      } else {
        expect(s).toMatchObject({ model: 'gpt-4o-mini', from: 'gpt-4o' });
        expect(s.ratio).toBeGreaterThanOrEqual(0.8);
      }
    }
    expect(served.length - firstDowngraded).toBeGreaterThanOrEqual(4);

    // Chained past 80%: o3-mini -> gpt-4o -> gpt-4o-mini.
    const chained = await chat(client, 'o3-mini', { maxTokens: 20, outputTokens: 20 });
    expect(chained.headers.get('x-gateway-model')).toBe('gpt-4o-mini');
    expect(chained.headers.get('x-gateway-downgraded-from')).toBe('o3-mini');
    expect(stack.mock.served.at(-1)?.model).toBe('gpt-4o-mini');

    // The Anthropic side of the same map, through the Anthropic SDK.
    const { data: message, response } = await stack
      .anthropic()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'Hello' }],
      })
      .withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('claude-haiku-4-5');
    expect(response.headers.get('x-gateway-downgraded-from')).toBe('claude-sonnet-4-5');
    expect(stack.mock.served.at(-1)?.model).toBe('claude-haiku-4-5');
    expect(message.model).toBe('claude-haiku-4-5');

    // The downgrade counter saw it.
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/llm_gateway_downgrades_total\{from="gpt-4o",to="gpt-4o-mini"\} [1-9]/);
  });

  it('previews the downgrade in /v1/cost/estimate', async () => {
    expect(await usedRatio(stack, 'web-monthly')).toBeGreaterThanOrEqual(0.8);
    const response = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'gpt-4o',
      served_model: 'gpt-4o-mini',
      downgraded: true,
      allowed: true,
    });
  });
});
