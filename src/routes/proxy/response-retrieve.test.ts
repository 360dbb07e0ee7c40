/**
 * GET /v1/responses/{id} through the gateway with the official openai SDK (responses.retrieve):
 * the caller a response was served to gets it from the provider, free; another key, another trial
 * user, an unknown id all get the same 404 in OpenAI's shape, logged and counted; and two gateways
 * on one store (SQLite file, Redis) answer each other's responses through the shared owners.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../../test/helpers/redis.js';
import { type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../../test/helpers/stack.js';
import { budgetTotals, GLOBAL_BUDGET_YAML, recordOf } from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: `budgets:
  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }
anonymous:
  enabled: true
  models: [gpt-4o-mini]
  identify_by: header:x-gateway-user
`,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

async function unknownPathCount(): Promise<number> {
  const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('llm_gateway_unknown_paths_total{method="GET"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function notFound(client: OpenAI, id: string) {
  const error = await client.responses.retrieve(id).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.NotFoundError);
  return (error as InstanceType<typeof OpenAI.NotFoundError>).error as Record<string, unknown>;
}

const trial = (visitor: string) =>
  new OpenAI({
    apiKey: 'unused',
    baseURL: `${stack.gateway.url}/v1`,
    maxRetries: 0,
    // No key: the trial path; the visitor is told apart by its header.
    defaultHeaders: { authorization: null, 'x-gateway-user': visitor },
  });

describe('GET /v1/responses/{id}', () => {
  it('the key a response was served to retrieves it (plain and streamed), free, from the provider', async () => {
    const alpha = stack.openai(TEST_KEY);
    const created = await alpha.responses.create({ model: 'gpt-4o-mini', input: 'Tell me a story.' });
    const streamed = await alpha.responses
      .stream({ model: 'gpt-4o-mini', input: 'Another one.' })
      .finalResponse();
    const before = await budgetTotals(stack);
    stack.mock.reset();

    const { data: got, response } = await alpha.responses.retrieve(created.id).withResponse();
    expect(got).toEqual(created);
    expect(response.headers.get('x-gateway-cost-usd')).toBe('0.000000000');
    const again = await alpha.responses.retrieve(streamed.id);
    expect(again.output_text).toBe(streamed.output_text);
    expect(again.usage).toEqual(streamed.usage);

    // Proxied, with the provider's key and not the gateway's.
    expect(stack.mock.served.map((s) => s.path)).toEqual([
      `/v1/responses/${created.id}`,
      `/v1/responses/${streamed.id}`,
    ]);
    expect(stack.mock.served[0]!.headers.authorization).not.toContain(TEST_KEY);
    expect(await budgetTotals(stack)).toEqual(before);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record).toMatchObject({
      endpoint: '/v1/responses/{id}',
      status: 200,
      costNano: 0,
      keyId: 'alpha',
    });
  });

  it('another key, an unknown id: the same 404 in OpenAI shape, counted, no provider call, no budget moved', async () => {
    const created = await stack.openai(TEST_KEY).responses.create({ model: 'gpt-4o-mini', input: 'Mine.' });
    const before = await budgetTotals(stack);
    const beforeBravo = await budgetTotals(stack, TEST_KEY_2);
    const unknownBefore = await unknownPathCount();
    stack.mock.reset();

    const bravo = stack.openai(TEST_KEY_2);
    const foreign = await notFound(bravo, created.id);
    const unknown = await notFound(bravo, 'resp_never_served');
    expect(foreign).toEqual({
      message: `Response with id '${created.id}' not found.`,
      type: 'invalid_request_error',
      code: 'not_found',
      param: null,
    });
    expect(unknown.message).toBe("Response with id 'resp_never_served' not found.");
    // An id that is not plain is not echoed back.
    expect((await notFound(bravo, 'resp_<script>')).message).toBe('Response not found.');

    expect(stack.mock.served).toHaveLength(0);
    expect(await unknownPathCount()).toBe(unknownBefore + 3);
    expect(await budgetTotals(stack)).toEqual(before);
    expect(await budgetTotals(stack, TEST_KEY_2)).toEqual(beforeBravo);
    const last = stack.records.at(-1);
    expect(last).toMatchObject({
      endpoint: '/v1/responses/{id}',
      status: 404,
      errorCode: 'not_found',
      keyId: 'bravo',
    });
  });

  it('trial users share the anonymous key id, yet one never reads another trial user’s response', async () => {
    const created = await trial('visitor-1').responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    expect((await trial('visitor-1').responses.retrieve(created.id)).id).toBe(created.id);
    await notFound(trial('visitor-2'), created.id);
    await notFound(stack.openai(TEST_KEY), created.id);
  });

  it('a streamed retrieval is refused with a 400 naming stream; nothing reaches the provider', async () => {
    const created = await stack.openai().responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    stack.mock.reset();
    const response = await fetch(`${stack.gateway.url}/v1/responses/${created.id}?stream=true`, {
      headers: { authorization: `Bearer ${TEST_KEY}` },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe('stream');
    expect(stack.mock.served).toHaveLength(0);
  });
});

describe.each(['sqlite', 'redis'] as const)('two gateways on one %s store', (kind) => {
  let redis: StartedRedis | undefined;
  let a: Stack;
  let b: Stack;

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'llmgw-owners-'));
    const store =
      kind === 'redis'
        ? { type: 'redis' as const, url: redis!.url, prefix: 'owners' }
        : { type: 'sqlite' as const, path: join(dir, 'shared.db') };
    a = await startStack({ store, extraYaml: GLOBAL_BUDGET_YAML });
    b = await startStack({ store, extraYaml: GLOBAL_BUDGET_YAML, mockProvider: a.mock });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.close();
  });

  it('a response served by one instance is retrieved through the other by its key only', async () => {
    const created = await a.openai(TEST_KEY).responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    a.mock.reset();
    const got = await b.openai(TEST_KEY).responses.retrieve(created.id);
    expect(got).toEqual(created);
    expect(a.mock.served.map((s) => s.path)).toEqual([`/v1/responses/${created.id}`]);
    const error = await b
      .openai(TEST_KEY_2)
      .responses.retrieve(created.id)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(a.mock.served).toHaveLength(1);
  });
});
