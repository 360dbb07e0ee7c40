/**
 * POST /admin/cost/estimate, the console's cost preview: the same answer /v1/cost/estimate gives
 * the key itself, for config and API-made keys, reserving nothing; bad input named; admin token only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../../test/helpers/stack.js';

const BUDGETS_YAML = `budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 1
    thresholds: [{ at: 0.5, downgrade: { gpt-4o: gpt-4o-mini } }]
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 0.5, period: daily }
  - { id: everything, scope: global, limit_usd: 10 }`;

const CHAT = {
  model: 'gpt-4o',
  max_tokens: 200,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What does a budget gateway do?' },
  ],
};

let stack: Stack;

async function post(path: string, body: unknown, auth: string | null = ADMIN_TOKEN) {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const adminEstimate = (body: unknown, auth?: string | null) => post('/admin/cost/estimate', body, auth);
const selfEstimate = (key: string, body: unknown) => post('/v1/cost/estimate', body, key);

/** The answer without the budgets' forecasts, which move with the clock between two calls. */
function steady(answer: Record<string, any>): Record<string, any> {
  const budgets = (answer.budgets as Record<string, any>[]).map(({ forecast, ...rest }) => {
    expect(forecast).toHaveProperty('projected_usd');
    return rest;
  });
  return { ...answer, budgets };
}

beforeAll(async () => {
  stack = await startStack({ extraYaml: BUDGETS_YAML });
  // Some spend, so the budgets in the answers carry numbers.
  await stack.openai().chat.completions.create({ ...CHAT, max_tokens: 30 } as never);
});

afterAll(async () => {
  await stack?.close();
});

describe('POST /admin/cost/estimate', () => {
  it('answers what /v1/cost/estimate answers the key itself (OpenAI and Anthropic shapes)', async () => {
    const openai = await adminEstimate({ key_id: 'alpha', ...CHAT });
    expect(openai.status).toBe(200);
    expect(steady(openai.body)).toEqual(steady((await selfEstimate(TEST_KEY, CHAT)).body));
    expect(openai.body.allowed).toBe(true);
    expect(openai.body.estimated_usd).toBeGreaterThan(0);
    expect(
      openai.body.budgets.map((b: { instance?: string; id: string }) => b.instance ?? b.id).sort(),
    ).toEqual(['everything', 'per-user-daily|user=alice', 'web-monthly'].sort());

    const message = {
      endpoint: '/v1/messages',
      model: 'claude-haiku-4-5',
      max_tokens: 300,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello there' }],
    };
    const anthropic = await adminEstimate({ key_id: 'alpha', ...message });
    expect(anthropic.status).toBe(200);
    expect(steady(anthropic.body)).toEqual(steady((await selfEstimate(TEST_KEY, message)).body));
    expect(anthropic.body.max_output_tokens).toBe(300);
  });

  it("applies the key's user, or the body's user for a key without one", async () => {
    const answer = await adminEstimate({ key_id: 'bravo', ...CHAT, model: 'gpt-4o-mini', user: 'zed' });
    expect(answer.status).toBe(200);
    expect(answer.body.budgets.map((b: { instance?: string }) => b.instance)).toContain(
      'per-user-daily|user=zed',
    );
    const own = await selfEstimate(TEST_KEY_2, { ...CHAT, model: 'gpt-4o-mini', user: 'zed' });
    expect(steady(answer.body)).toEqual(steady(own.body));
  });

  it('previews for a key made through the admin API', async () => {
    const created = await post('/admin/keys', { id: 'made-for-preview', team: 'web' });
    expect(created.status).toBe(201);
    const answer = await adminEstimate({ key_id: 'made-for-preview', ...CHAT });
    expect(answer.status).toBe(200);
    expect(steady(answer.body)).toEqual(steady((await selfEstimate(created.body.key, CHAT)).body));
    expect(answer.body.budgets.map((b: { id: string }) => b.id)).toContain('web-monthly');
  });

  it('reserves nothing', async () => {
    for (let i = 0; i < 5; i++) expect((await adminEstimate({ key_id: 'alpha', ...CHAT })).status).toBe(200);
    const response = await fetch(`${stack.gateway.url}/admin/budgets`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { budgets } = (await response.json()) as {
      budgets: { id: string; balance?: { reserved_usd: number } }[];
    };
    for (const budget of budgets) expect(budget.balance?.reserved_usd ?? 0, budget.id).toBe(0);
  });

  it('names what is wrong: key_id, unknown key, model rights, unknown model, endpoint', async () => {
    const missing = await adminEstimate(CHAT);
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe('key_id');
    expect(missing.body.error.problems).toEqual([
      { field: 'key_id', message: 'expected the id of a virtual key' },
    ]);

    const unknownKey = await adminEstimate({ key_id: 'nobody', ...CHAT });
    expect(unknownKey.status).toBe(404);
    expect(unknownKey.body.error.message).toContain('nobody');

    const forbidden = await adminEstimate({ key_id: 'bravo', ...CHAT });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.param).toBe('model');

    const unknownModel = await adminEstimate({ key_id: 'alpha', ...CHAT, model: 'gpt-99' });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.body.error.param).toBe('model');

    const endpoint = await adminEstimate({ key_id: 'alpha', ...CHAT, endpoint: '/v1/nope' });
    expect(endpoint.status).toBe(400);
    expect(endpoint.body.error.param).toBe('endpoint');

    const badBody = await adminEstimate({ key_id: 'alpha', model: 'gpt-4o', messages: 'not a list' });
    expect(badBody.status).toBe(400);
  });

  it('needs the admin token: none, a wrong one, or a virtual key get 401', async () => {
    for (const auth of [null, 'wrong-token', TEST_KEY]) {
      const answer = await adminEstimate({ key_id: 'alpha', ...CHAT }, auth);
      expect(answer.status, String(auth)).toBe(401);
      expect(JSON.stringify(answer.body)).not.toContain('estimated_usd');
    }
  });

  it('is in the OpenAPI document', async () => {
    const response = await fetch(`${stack.gateway.url}/admin/openapi.json`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/admin/cost/estimate'] ?? {})).toEqual(['post']);
  });
});
