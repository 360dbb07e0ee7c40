/**
 * Property-based bad input over every proxy and self-service endpoint: whatever the body or headers,
 * the gateway answers in the client's error format, never with a 5xx of its own, never crashes,
 * and a request it rejects moves no budget.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: 'budgets:\n  - { id: everything, scope: global, limit_usd: 1000 }\n',
    serverYaml: ', max_body_bytes: 64kb',
  });
});
afterAll(async () => stack?.close());

const PROXY_PATHS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/messages',
];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-haiku-4-5', 'text-embedding-3-small', 'nope', '', 42, null];

async function balance(): Promise<{ spent: number; reserved: number }> {
  const res = await fetch(`${stack.gateway.url}/v1/budget`, {
    headers: { authorization: `Bearer ${TEST_KEY}` },
  });
  const body = (await res.json()) as {
    budgets: Array<{ id: string; spent_usd: number; reserved_usd: number }>;
  };
  const line = body.budgets.find((b) => b.id === 'everything');
  if (!line) throw new Error('budget missing');
  return { spent: line.spent_usd, reserved: line.reserved_usd };
}

function assertErrorShape(path: string, status: number, body: unknown): void {
  expect(body).toBeTypeOf('object');
  if (path === '/v1/messages') {
    expect(body).toMatchObject({
      type: 'error',
      error: { type: expect.any(String), message: expect.any(String) },
    });
  } else {
    expect(body).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
  }
  expect(status).toBeGreaterThanOrEqual(400);
}

/** Bodies near the valid shape, with fields swapped for arbitrary JSON: the interesting region. */
const nearlyValidBody = fc.record(
  {
    model: fc.oneof(fc.constantFrom(...MODELS), fc.jsonValue()),
    messages: fc.oneof(
      fc.array(
        fc.record(
          {
            role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'tool'), fc.jsonValue()),
            content: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      fc.jsonValue(),
    ),
    input: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
      fc.jsonValue(),
    ),
    prompt: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue()),
    max_tokens: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.double(), fc.jsonValue()),
    max_completion_tokens: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.jsonValue()),
    max_output_tokens: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.jsonValue()),
    stream: fc.oneof(fc.boolean(), fc.jsonValue()),
    stream_options: fc.oneof(fc.record({ include_usage: fc.jsonValue() }), fc.jsonValue()),
    tools: fc.jsonValue(),
    user: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

/** A valid body per endpoint, so mutations land near the accepted region. */
const VALID: Record<string, Record<string, unknown>> = {
  '/v1/chat/completions': {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 5,
  },
  '/v1/completions': { model: 'gpt-4o-mini', prompt: 'hi', max_tokens: 5 },
  '/v1/embeddings': { model: 'text-embedding-3-small', input: 'hi' },
  '/v1/responses': { model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 5 },
  '/v1/messages': { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 },
};
const FIELDS = [
  'model',
  'messages',
  'input',
  'prompt',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'stream',
  'stream_options',
  'tools',
  'user',
  'system',
  'instructions',
];

/** A valid body with 0-3 fields replaced (by near-miss values or arbitrary JSON) or deleted. */
function mutatedBody(path: string) {
  const mutation = fc.record({
    field: fc.constantFrom(...FIELDS),
    value: fc.oneof(
      { weight: 3, arbitrary: nearlyValidBody.map((b) => Object.values(b)[0]) },
      { weight: 2, arbitrary: fc.jsonValue() },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
  });
  return fc.array(mutation, { maxLength: 3 }).map((mutations) => {
    const body: Record<string, unknown> = structuredClone(VALID[path] ?? {});
    for (const { field, value } of mutations) {
      if (value === undefined) delete body[field];
      else body[field] = value;
    }
    return JSON.stringify(body);
  });
}

function rawBody(path: string) {
  return fc.oneof(
    { weight: 6, arbitrary: mutatedBody(path) },
    { weight: 1, arbitrary: nearlyValidBody.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"model":',
        'null',
        '[]',
        '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]',
        '\u0000',
      ),
    },
  );
}

describe('bad input never breaks the gateway or moves a budget', () => {
  it('proxy endpoints', async () => {
    const counts = { forwarded: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROXY_PATHS).chain((path) => fc.tuple(fc.constant(path), rawBody(path))),
        fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        async ([path, body], jsonType) => {
          const before = await balance();
          const servedBefore = stack.mock.served.length;
          const res = await fetch(`${stack.gateway.url}${path}`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TEST_KEY}`,
              'content-type': jsonType ? 'application/json' : 'text/plain',
              'x-mock-output-tokens': '3',
            },
            body,
          });
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          const forwarded = stack.mock.served.length > servedBefore;
          if (forwarded) counts.forwarded++;
          else counts.rejected++;
          if (!forwarded) {
            assertErrorShape(path, res.status, JSON.parse(text));
            expect(await balance()).toEqual(before);
          } else {
            // Forwarded: the reservation was settled or released; nothing stays reserved.
            await expect.poll(async () => (await balance()).reserved).toBe(0);
          }
        },
      ),
      { numRuns: 200 },
    );
    // Both regions were explored: bodies the gateway refused and bodies it served.
    expect(counts.forwarded).toBeGreaterThan(10);
    expect(counts.rejected).toBeGreaterThan(10);
  });

  it('cost estimate endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(
        nearlyValidBody,
        fc.oneof(fc.constantFrom(...PROXY_PATHS, '/v1/nope'), fc.jsonValue()),
        async (body, endpoint) => {
          const before = await balance();
          const servedBefore = stack.mock.served.length;
          const res = await fetch(`${stack.gateway.url}/v1/cost/estimate`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ ...body, endpoint }),
          });
          const json = (await res.json()) as Record<string, unknown>;
          expect(res.status, JSON.stringify(json)).toBeLessThan(500);
          if (res.status !== 200) expect(json).toHaveProperty('error');
          expect(stack.mock.served.length).toBe(servedBefore);
          expect(await balance()).toEqual(before);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('headers: odd keys and auth values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(undefined),
          fc.string({ maxLength: 60 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
          fc.constantFrom('Bearer ', 'Bearer', 'Basic abc', `Bearer ${TEST_KEY} extra`, `bearer ${TEST_KEY}`),
        ),
        fc.constantFrom(...PROXY_PATHS),
        async (auth, path) => {
          const before = await balance();
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (auth !== undefined) headers.authorization = auth;
          const res = await fetch(`${stack.gateway.url}${path}`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: 'x' }],
              input: 'x',
              prompt: 'x',
              max_tokens: 5,
            }),
          });
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          if (res.status === 401) {
            assertErrorShape(path, res.status, JSON.parse(text));
            expect(await balance()).toEqual(before);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects JSON nested past the depth limit without forwarding', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const servedBefore = stack.mock.served.length;
    const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: `{"model":"gpt-4o","messages":[{"role":"user","content":${deep}}]}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/nests deeper/);
    expect(stack.mock.served.length).toBe(servedBefore);
  });
});

describe('list limits', () => {
  let big: Stack;
  beforeAll(async () => {
    big = await startStack();
  });
  afterAll(async () => big?.close());

  it.each([
    [
      '/v1/chat/completions',
      'messages',
      { model: 'gpt-4o-mini', messages: Array(10_001).fill({ role: 'user', content: 'x' }) },
    ],
    [
      '/v1/messages',
      'messages',
      {
        model: 'claude-haiku-4-5',
        max_tokens: 5,
        messages: Array(10_001).fill({ role: 'user', content: 'x' }),
      },
    ],
    ['/v1/embeddings', 'input', { model: 'text-embedding-3-small', input: Array(10_001).fill('x') }],
    [
      '/v1/responses',
      'input',
      { model: 'gpt-4o-mini', input: Array(10_001).fill({ role: 'user', content: 'x' }) },
    ],
  ])('%s refuses more than 10,000 %s items before counting tokens', async (path, field, body) => {
    const servedBefore = big.mock.served.length;
    const res = await fetch(`${big.gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(`Invalid '${field}': at most 10000 items, got 10001.`);
    expect(big.mock.served.length).toBe(servedBefore);
  });
});
