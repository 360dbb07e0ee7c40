/**
 * GET /v1/budget and POST /v1/cost/estimate agree with what the next real request is charged:
 * the estimate is the reservation, the remaining amounts are the headers', and the spend moves by
 * exactly the cost header. A malformed estimate body is a 400 naming the field and changes nothing.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BudgetJson, budgets, nanoOf, nanoOfNumber } from '../../../test/controls/helpers.js';
import {
  ADMIN_TOKEN,
  eventually,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../../../test/helpers/stack.js';

const AUTH = { authorization: `Bearer ${TEST_KEY}` };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    extraYaml: `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 2, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 0.5, period: daily }
  - { id: everything, scope: global, limit_usd: 100, period: monthly }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});

async function estimate(body: unknown, headers: Record<string, string> = AUTH) {
  const response = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const keyOf = (b: BudgetJson) => b.instance ?? b.id;

function byKey(list: BudgetJson[]): Map<string, BudgetJson> {
  return new Map(list.map((b) => [keyOf(b), b]));
}

const REQUEST: OpenAI.ChatCompletionCreateParamsNonStreaming = {
  model: 'gpt-4o',
  max_tokens: 300,
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What does a budget gateway do, in one paragraph?' },
  ],
};

describe('self-service endpoints agree with the charge', () => {
  it('estimate = reservation, remaining = header, spend moves by exactly the cost (non-streaming)', async () => {
    const before = byKey(await budgets(stack, AUTH));
    expect([...before.keys()].sort()).toEqual(
      ['everything', 'per-user-daily|user=alice', 'web-monthly'].sort(),
    );

    const preview = await estimate({ endpoint: '/v1/chat/completions', ...REQUEST });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      model: 'gpt-4o',
      served_model: 'gpt-4o',
      allowed: true,
      reason: null,
    });
    expect(preview.body.max_output_tokens).toBe(300);
    // The preview's budgets are the balances as they stand, the same /v1/budget shows.
    for (const b of preview.body.budgets as BudgetJson[]) {
      expect(b.spent_usd).toBe(before.get(keyOf(b))?.spent_usd);
      expect(b.remaining_usd).toBe(before.get(keyOf(b))?.remaining_usd);
    }
    const estimateNano = nanoOfNumber(preview.body.estimated_usd);
    expect(preview.body.estimated_cost).toMatch(/^0\.\d{9}$/);
    expect(nanoOf(preview.body.estimated_cost)).toBe(estimateNano);
    // Independently: prompt tokens x $2.50/M + 300 x $10/M, rounded up to the nano.
    expect(estimateNano).toBe(Math.ceil((preview.body.prompt_tokens * 2_500_000 + 300 * 10_000_000) / 1000));

    const { response } = await stack
      .openai()
      .chat.completions.create(REQUEST, { headers: { 'x-mock-output-tokens': '120' } })
      .withResponse();
    const requestId = response.headers.get('x-gateway-request-id');
    const cost = nanoOf(response.headers.get('x-gateway-cost-usd'));
    let reserved = -1;
    await eventually(() => {
      const record = stack.records.find((r) => r.requestId === requestId);
      expect(record).toBeDefined();
      reserved = record!.estimateNano;
    });
    expect(reserved).toBe(estimateNano);

    const after = byKey(await budgets(stack, AUTH));
    for (const [key, b] of after) {
      expect(nanoOfNumber(b.spent_usd) - nanoOfNumber(before.get(key)!.spent_usd), key).toBe(cost);
      expect(b.reserved_usd).toBe(0);
    }
    // The header names the tightest budget and what is left of it, as /v1/budget now shows.
    const tightest = [...after.values()].sort((x, y) => x.remaining_usd - y.remaining_usd)[0]!;
    expect(tightest.id).toBe('per-user-daily');
    expect(response.headers.get('x-gateway-budget-id')).toBe('per-user-daily');
    expect(nanoOf(response.headers.get('x-gateway-budget-remaining-usd'))).toBe(
      nanoOfNumber(tightest.remaining_usd),
    );
  });

  it('on streams: the estimated-cost header is the preview, and the remaining header is after the reservation', async () => {
    const before = byKey(await budgets(stack, AUTH));
    const preview = await estimate({ ...REQUEST, stream: true });
    expect(preview.status).toBe(200);
    const estimateNano = nanoOfNumber(preview.body.estimated_usd);

    const { data: stream, response } = await stack
      .openai()
      .chat.completions.create({ ...REQUEST, stream: true }, { headers: { 'x-mock-output-tokens': '40' } })
      .withResponse();
    expect(nanoOf(response.headers.get('x-gateway-estimated-cost-usd'))).toBe(estimateNano);
    const tightestBefore = [...before.values()].sort((x, y) => x.remaining_usd - y.remaining_usd)[0]!;
    expect(response.headers.get('x-gateway-budget-id')).toBe(tightestBefore.id);
    expect(nanoOf(response.headers.get('x-gateway-budget-remaining-usd'))).toBe(
      nanoOfNumber(tightestBefore.remaining_usd) - estimateNano,
    );
    for await (const _chunk of stream) {
      // drain
    }
    const requestId = response.headers.get('x-gateway-request-id');
    let cost = -1;
    await eventually(() => {
      const record = stack.records.find((r) => r.requestId === requestId);
      expect(record?.settlement).toBe('usage');
      cost = record!.costNano;
    });
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThanOrEqual(estimateNano);
    await eventually(async () => {
      const after = byKey(await budgets(stack, AUTH));
      for (const [key, b] of after) {
        expect(nanoOfNumber(b.spent_usd) - nanoOfNumber(before.get(key)!.spent_usd), key).toBe(cost);
      }
    });
  });

  it('an estimate for a request that would be rejected says so, with the reason', async () => {
    const preview = await estimate(
      { model: 'gpt-4o', max_tokens: 100_000, messages: REQUEST.messages },
      AUTH,
    );
    expect(preview.status).toBe(200);
    // 100k tokens is more than gpt-4o can produce: the reservation is for the model's maximum.
    expect(preview.body.allowed).toBe(true);
    expect(preview.body.max_output_tokens).toBe(16384);
    const poorer = await startStack({
      extraYaml: 'budgets:\n  - { id: tiny, scope: global, limit_usd: 0.000001 }\n',
      mockProvider: stack.mock,
    });
    try {
      const served = stack.mock.served.length;
      const rejected = await fetch(`${poorer.gateway.url}/v1/cost/estimate`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify(REQUEST),
      });
      expect(rejected.status).toBe(200);
      const body = (await rejected.json()) as Record<string, any>;
      expect(body).toMatchObject({ allowed: false, code: 'budget_exceeded' });
      expect(body.reason).toContain('"tiny"');
      expect(stack.mock.served.length).toBe(served);
    } finally {
      await poorer.close();
    }
  });
});

describe('malformed estimate requests', () => {
  const cases: Array<[string, unknown, number, string | null]> = [
    ['not JSON', '{"model": "gpt-4o", ', 400, null],
    ['an array', '[1, 2]', 400, null],
    ['an unknown endpoint', { ...REQUEST, endpoint: '/v1/images' }, 400, 'endpoint'],
    ['a non-string endpoint', { ...REQUEST, endpoint: 42 }, 400, 'endpoint'],
    ['no model', { messages: REQUEST.messages }, 400, 'model'],
    ['a numeric model', { ...REQUEST, model: 7 }, 400, 'model'],
    ['no messages', { model: 'gpt-4o' }, 400, 'messages'],
    ['messages as a string', { model: 'gpt-4o', messages: 'hello' }, 400, 'messages'],
    ['a message without a role', { model: 'gpt-4o', messages: [{ content: 'x' }] }, 400, 'messages[0].role'],
    ['a negative max_tokens', { ...REQUEST, max_tokens: -5 }, 400, 'max_tokens'],
    [
      'a fractional max_completion_tokens',
      { ...REQUEST, max_completion_tokens: 1.5 },
      400,
      'max_completion_tokens',
    ],
    ['a string stream flag', { ...REQUEST, stream: 'yes' }, 400, 'stream'],
    ['an unknown model', { ...REQUEST, model: 'gpt-9' }, 404, 'model'],
    ['a model of the other API', { ...REQUEST, model: 'claude-haiku-4-5' }, 400, 'model'],
  ];

  /** Balances only: the forecast moves with the clock. */
  const balances = async () => (await budgets(stack, AUTH)).map(({ forecast: _f, ...rest }) => rest);

  it.each(cases)('%s: %s naming the field, nothing reserved or sent', async (_name, body, status, param) => {
    const before = await balances();
    const served = stack.mock.served.length;
    const answer = await estimate(body);
    expect(answer.status).toBe(status);
    expect(answer.body.error?.param ?? null).toBe(param);
    if (param) expect(answer.body.error?.message).toContain(param.split('[')[0]);
    expect(await balances()).toEqual(before);
    expect(stack.mock.served.length).toBe(served);
  });

  it('answers in Anthropic’s format for an Anthropic endpoint', async () => {
    const answer = await estimate({
      endpoint: '/v1/messages',
      model: 'claude-haiku-4-5',
      max_tokens: 0,
      messages: [],
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(answer.body.error.message).toContain('messages');
  });

  it('refuses a model the key may not use (403) and a missing key (401)', async () => {
    const forbidden = await estimate(REQUEST, { authorization: `Bearer ${TEST_KEY_2}` });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.param).toBe('model');
    const anonymous = await estimate(REQUEST, {});
    expect(anonymous.status).toBe(401);
  });
});

describe('a preview prices the per-user line the real request is charged on', () => {
  /** The per-user-daily instances with spend this period, from the admin API. */
  async function perUserInstances(): Promise<string[]> {
    const response = await fetch(`${stack.gateway.url}/admin/budgets/per-user-daily`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { instances: { top_spenders: Array<{ instance: string }> } };
    return body.instances.top_spenders.map((s) => s.instance).sort();
  }

  // The bravo key names no user, so the body's `user` is the one per-user budgets see.
  const BRAVO = { authorization: `Bearer ${TEST_KEY_2}` };
  it.each([
    ['a 300-character user', 'u'.repeat(300)],
    ['an empty user', ''],
  ])('%s', async (_name, user) => {
    const request = {
      model: 'gpt-4o-mini',
      max_tokens: 20,
      user,
      messages: [{ role: 'user', content: 'hi' }],
    };
    const preview = await estimate(request, BRAVO);
    expect(preview.status).toBe(200);
    const previewed = (preview.body.budgets as BudgetJson[])
      .map(keyOf)
      .filter((id) => id.startsWith('per-user-daily'));

    const before = await perUserInstances();
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...BRAVO, 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    expect(response.status).toBe(200);
    await response.json();
    const requestId = response.headers.get('x-gateway-request-id');
    await eventually(() => expect(stack.records.some((r) => r.requestId === requestId)).toBe(true));
    const charged = (await perUserInstances()).filter((instance) => !before.includes(instance));

    expect(previewed).toEqual(charged);
    expect(charged).toHaveLength(user === '' ? 0 : 1);
  });
});
