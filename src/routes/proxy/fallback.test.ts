/**
 * Provider fallback: when a model's provider answers 429/5xx or fails before the first byte, the
 * request moves to the next model of `fallbacks`, re-checked against the budgets at its own price,
 * and the client sees the fallback's answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OPENAI_UPSTREAM_KEY, type Stack, startStack } from '../../../test/helpers/stack.js';

const FALLBACKS = `
fallbacks:
  gpt-4o: [o3-mini, gpt-4o-mini]
budgets:
  - { id: everything, scope: global, limit_usd: 100, period: none }
`;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function spent(s: Stack): Promise<number> {
  const res = await fetch(`${s.gateway.url}/v1/budget`, {
    headers: { authorization: 'Bearer sk-gw-test-key-alpha' },
  });
  const body = (await res.json()) as {
    budgets: Array<{ id: string; spent_usd: number; reserved_usd: number }>;
  };
  const line = body.budgets.find((b) => b.id === 'everything')!;
  expect(line.reserved_usd).toBe(0);
  return line.spent_usd;
}

describe('provider fallback', () => {
  it('moves to the next model on a 5xx and bills only the model that answered', async () => {
    stack = await startStack({ extraYaml: FALLBACKS });
    const { data, response } = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
        { headers: { 'x-mock-fail': 'status:503', 'x-mock-fail-model': 'gpt-4o' } },
      )
      .withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('o3-mini');
    expect(response.headers.get('x-gateway-fallback-from')).toBe('gpt-4o');
    expect(stack.mock.served.map((r) => [r.model, r.status])).toEqual([
      ['gpt-4o', 503],
      ['o3-mini', 200],
    ]);
    // o3-mini takes max_completion_tokens: the fallback's request is rewritten for its own model.
    const fallbackBody = stack.mock.served[1]?.body as Record<string, unknown>;
    expect(fallbackBody.max_completion_tokens).toBe(20);
    expect(fallbackBody.max_tokens).toBeUndefined();
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(await spent(stack)).toBeCloseTo(Number(response.headers.get('x-gateway-cost-usd')), 9);
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(
      /llm_gateway_fallbacks_total\{from="gpt-4o",to="o3-mini",reason="status_503"\} 1/,
    );
  });

  it('counts one client request once on requests_per_minute, however many models it tries', async () => {
    stack = await startStack({
      extraYaml: `${FALLBACKS}
limits:
  - { id: per-key, scope: { key: "*" }, requests_per_minute: 2 }
`,
    });
    const client = stack.openai();
    const chat = { model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user' as const, content: 'hello' }] };
    // Tries gpt-4o, then o3-mini: two attempts, one request.
    const first = await client.chat.completions
      .create(chat, { headers: { 'x-mock-fail': 'status:503', 'x-mock-fail-model': 'gpt-4o' } })
      .withResponse();
    expect(first.response.headers.get('x-gateway-model')).toBe('o3-mini');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    const second = await client.chat.completions.create(chat).withResponse();
    expect(second.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const third = await client.chat.completions.create(chat).then(
      () => undefined,
      (e: { status?: number; code?: string }) => e,
    );
    expect(third).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  });

  it('walks the whole chain on 429s and relays the last error when every model fails', async () => {
    stack = await startStack({ extraYaml: FALLBACKS });
    const error = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
        { headers: { 'x-mock-fail': 'status:429' } },
      )
      .then(
        () => ({ status: 200 }),
        (e: unknown) => e as { status: number },
      );
    expect(error.status).toBe(429);
    expect(stack.mock.served.map((r) => r.model)).toEqual(['gpt-4o', 'o3-mini', 'gpt-4o-mini']);
    expect(await spent(stack)).toBe(0);
  });

  it('falls back on a 5xx before a stream starts and bills the fallback', async () => {
    stack = await startStack({ extraYaml: FALLBACKS });
    const s = stack;
    const stream = await s
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', stream: true, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-mock-fail': 'status:500', 'x-mock-fail-model': 'gpt-4o' } },
      );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(s.mock.served.map((r) => r.model)).toEqual(['gpt-4o', 'o3-mini']);
    await expect.poll(() => s.records.length).toBe(1);
    expect(s.records[0]?.servedModel).toBe('o3-mini');
    expect(await spent(s)).toBeCloseTo(s.records[0]!.costNano / 1e9, 9);
  });

  it('falls back across providers when one times out before the first byte or is unreachable', async () => {
    stack = await startStack({
      providersYaml: [
        `  slow: { kind: openai, base_url: "MOCK/v1", api_key: ${OPENAI_UPSTREAM_KEY}, timeouts: { headers_ms: 200 } }`,
        '  down: { kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k }',
      ].join('\n'),
      modelsYaml: [
        '  slow-model: { provider: slow, upstream_model: gpt-4o, input: 2.5, output: 10, max_output_tokens: 1000 }',
        '  down-model: { provider: down, upstream_model: gpt-4o, input: 2.5, output: 10, max_output_tokens: 1000 }',
      ].join('\n'),
      extraYaml: 'fallbacks:\n  slow-model: [down-model, gpt-4o-mini]\n',
      keysYaml: 'keys:\n  - { id: any, key: "sk-gw-any-key-123" }',
      mockUrlPlaceholder: 'MOCK',
    });
    const { response } = await stack
      .openai('sk-gw-any-key-123')
      .chat.completions.create(
        { model: 'slow-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-mock-fail': 'slow-first-byte:3000', 'x-mock-fail-model': 'gpt-4o' } },
      )
      .withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-gateway-fallback-from')).toBe('down-model');
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(
      /llm_gateway_fallbacks_total\{from="slow-model",to="down-model",reason="provider_timeout"\} 1/,
    );
    expect(metrics).toMatch(
      /llm_gateway_fallbacks_total\{from="down-model",to="gpt-4o-mini",reason="provider_unreachable"\} 1/,
    );
  });

  it('does not fall back on a client error (4xx other than 429)', async () => {
    stack = await startStack({ extraYaml: FALLBACKS });
    const error = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
        { headers: { 'x-mock-fail': 'status:400' } },
      )
      .then(
        () => ({ status: 200 }),
        (e: unknown) => e as { status: number },
      );
    expect(error.status).toBe(400);
    expect(stack.mock.served.map((r) => r.model)).toEqual(['gpt-4o']);
  });

  it('skips fallbacks the key may not use', async () => {
    stack = await startStack({
      extraYaml: 'fallbacks:\n  gpt-4o-mini: [o3-mini, gpt-4o]\n',
      keysYaml: 'keys:\n  - { id: narrow, key: "sk-gw-narrow-key-1", models: [gpt-4o-mini, gpt-4o] }',
    });
    const { response } = await stack
      .openai('sk-gw-narrow-key-1')
      .chat.completions.create(
        { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-mock-fail': 'status:500', 'x-mock-fail-model': 'gpt-4o-mini' } },
      )
      .withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('gpt-4o');
    expect(stack.mock.served.map((r) => r.model)).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });
});
