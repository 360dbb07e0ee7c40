/**
 * A key's `max_choices` caps `n`: a request asking for more is a 400 invalid_request naming `n`, in
 * the client's format, before anything is reserved or sent upstream; one within the limit is served.
 * The same for a config key, an API-made key, and the cost estimates (which answer the real request).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { budgetTotals, GLOBAL_BUDGET_YAML } from './stack.test-helpers.js';

let stack: Stack;
let apiKey: string;

beforeAll(async () => {
  stack = await startStack({
    keysYaml: `keys:
  - { id: alpha, key: "${TEST_KEY}", team: web, max_choices: 2 }`,
    extraYaml: GLOBAL_BUDGET_YAML,
  });
  const created = await admin('/admin/keys', { id: 'capped', max_choices: 2 });
  expect(created.status).toBe(201);
  expect(created.body.max_choices).toBe(2);
  apiKey = created.body.key as string;
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

async function post(path: string, body: unknown, token: string) {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}
const admin = (path: string, body: unknown) => post(path, body, ADMIN_TOKEN);

const chat = (n: number) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 5,
  n,
});

describe.each([
  ['a config key', () => TEST_KEY],
  ['an API-made key', () => apiKey],
])('max_choices: 2 on %s', (_name, key) => {
  it('refuses n: 3 on chat completions before reserving or forwarding anything', async () => {
    const before = await budgetTotals(stack, key());
    const refused = await post('/v1/chat/completions', chat(3), key());
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', param: 'n' });
    expect(refused.body.error.message).toMatch(/at most 2 choices/);
    expect(stack.mock.served).toHaveLength(0);
    expect(await budgetTotals(stack, key())).toEqual(before);
  });

  it('refuses n: 3 through the OpenAI SDK (its own error class) and on completions', async () => {
    const client = new OpenAI({ apiKey: key(), baseURL: `${stack.gateway.url}/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create(chat(3) as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    const completions = await post(
      '/v1/completions',
      { model: 'gpt-4o-mini', prompt: 'hi', max_tokens: 5, n: 3 },
      key(),
    );
    expect(completions.status).toBe(400);
    expect(completions.body.error).toMatchObject({ code: 'invalid_request', param: 'n' });
    // best_of generates (and bills) 3 sequences to return 1: the limit counts what is billed.
    const bestOf = await post(
      '/v1/completions',
      { model: 'gpt-4o-mini', prompt: 'hi', max_tokens: 5, n: 1, best_of: 3 },
      key(),
    );
    expect(bestOf.status).toBe(400);
    expect(bestOf.body.error).toMatchObject({ code: 'invalid_request', param: 'best_of' });
    expect(stack.mock.served).toHaveLength(0);
  });

  it('serves n: 2 (and no n at all)', async () => {
    const served = await post('/v1/chat/completions', chat(2), key());
    expect(served.status).toBe(200);
    expect(served.body.choices).toHaveLength(2);
    const plain = await post('/v1/chat/completions', { ...chat(1), n: undefined }, key());
    expect(plain.status).toBe(200);
    expect(stack.mock.served).toHaveLength(2);
  });

  it('refuses n: 3 on /v1/cost/estimate and prices n: 2', async () => {
    const refused = await post('/v1/cost/estimate', chat(3), key());
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', param: 'n' });
    const priced = await post('/v1/cost/estimate', chat(2), key());
    expect(priced.status).toBe(200);
    expect(priced.body.allowed).toBe(true);
  });
});

it('/admin/cost/estimate answers the key its limit', async () => {
  const refused = await admin('/admin/cost/estimate', { key_id: 'capped', ...chat(3) });
  expect(refused.status).toBe(400);
  expect(refused.body.error).toMatchObject({ param: 'n' });
  expect((await admin('/admin/cost/estimate', { key_id: 'alpha', ...chat(2) })).status).toBe(200);
});

it('GET /admin/keys shows the limit of both keys', async () => {
  const response = await fetch(`${stack.gateway.url}/admin/keys`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const { keys } = (await response.json()) as { keys: Array<{ id: string; max_choices?: number }> };
  expect(keys.filter((k) => k.max_choices === 2).map((k) => k.id)).toEqual(['alpha', 'capped']);
});
