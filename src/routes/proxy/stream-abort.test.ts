/**
 * Streams that end early: a client that goes away aborts the upstream request at once (the mock sees
 * its connection closed within a second) and the partial output is billed; a provider stream that
 * breaks ends the client's stream cleanly and bills what was generated. A plain request whose client
 * left is read to its end and billed (client-gone.test.ts has the rest).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import { generatedText } from '../../mock/text.js';
import type { RequestRecord } from '../../record.js';
import { costOfUsage } from '../../usage.js';
import {
  budgetTotals,
  GLOBAL_BUDGET_YAML,
  mockCost,
  onlyServed,
  priceOf,
  recordOf,
} from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ extraYaml: GLOBAL_BUDGET_YAML });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];
/** Many slow chunks: the stream is still running when the client goes away. */
const slowStream = { 'x-mock-output-tokens': '400', 'x-mock-chunk-delay-ms': '25' };

async function expectCountedAndBilled(requestId: string | null, model: string) {
  const record = await recordOf(stack, requestId);
  expect(record.settlement).toBe('counted');
  expect(record.outputTokens).toBeGreaterThan(0);
  expect(record.inputTokens).toBeGreaterThan(0);
  expect(record.costNano).toBeGreaterThan(0);
  expect(record.costNano).toBe(
    costOfUsage(
      {
        inputTokens: record.inputTokens,
        cachedInputTokens: record.cachedInputTokens,
        cacheWriteTokens: record.cacheWriteTokens,
        outputTokens: record.outputTokens,
        reasoningTokens: record.reasoningTokens,
      },
      priceOf(model),
    ),
  );
  // The budget holds that cost as spent, and nothing stays reserved.
  await eventually(async () => {
    const totals = await budgetTotals(stack);
    expect(totals.reserved).toBe(0);
  });
  return record;
}

describe('the client goes away mid-stream', () => {
  it('openai: the mock sees its connection closed within a second; the partial output is billed', async () => {
    const { data: stream, response } = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', messages, max_tokens: 1000, stream: true },
        { headers: slowStream },
      )
      .withResponse();
    let received = '';
    let chunks = 0;
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta.content ?? '';
      if (++chunks === 5) break;
    }
    const abortedAt = Date.now();
    stream.controller.abort();

    const served = onlyServed(stack);
    await eventually(() => expect(served.clientClosedAt).not.toBeNull(), 2000);
    expect((served.clientClosedAt ?? Number.POSITIVE_INFINITY) - abortedAt).toBeLessThanOrEqual(1000);
    expect(served.completed).toBe(false);
    expect(served.outputTokensSent).toBeLessThan(400);

    const record = await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o');
    // At least what reached this client, at most what the provider generated.
    expect(received.length).toBeGreaterThan(0);
    expect(record.outputTokens).toBeGreaterThanOrEqual(4);
    expect(record.outputTokens).toBeLessThanOrEqual(served.outputTokensSent);
  });

  it('anthropic: same, with the input side taken from message_start', async () => {
    const stream = stack
      .anthropic()
      .messages.stream({ model: 'claude-haiku-4-5', messages, max_tokens: 1000 }, { headers: slowStream });
    const { response } = await stream.withResponse();
    let deltas = 0;
    let abortedAt = 0;
    await new Promise<void>((resolve) => {
      stream.on('text', () => {
        if (++deltas === 5) {
          abortedAt = Date.now();
          stream.abort();
          resolve();
        }
      });
      stream.on('abort', () => resolve());
    });
    await stream.done().catch(() => undefined);

    const served = onlyServed(stack);
    await eventually(() => expect(served.clientClosedAt).not.toBeNull(), 2000);
    expect((served.clientClosedAt ?? Number.POSITIVE_INFINITY) - abortedAt).toBeLessThanOrEqual(1000);
    const record = await expectCountedAndBilled(
      response.headers.get('x-gateway-request-id'),
      'claude-haiku-4-5',
    );
    expect(record.outputTokens).toBeLessThanOrEqual(served.outputTokensSent);
  });

  it('raw fetch: cancelling the body reader aborts the upstream at once', async () => {
    const controller = new AbortController();
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, ...slowStream },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, max_tokens: 1000, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    if (!reader) throw new Error('no body');
    await reader.read();
    await reader.read();
    const abortedAt = Date.now();
    controller.abort();
    const served = onlyServed(stack);
    await eventually(() => expect(served.clientClosedAt).not.toBeNull(), 2000);
    expect((served.clientClosedAt ?? Number.POSITIVE_INFINITY) - abortedAt).toBeLessThanOrEqual(1000);
    await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o-mini');
  });

  it('a client giving up on a non-streaming request written upstream: the answer is read and billed', async () => {
    const startedAt = Date.now();
    const controller = new AbortController();
    const pending = fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-latency-ms': '800',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, max_tokens: 10 }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await eventually(() => expect(stack.mock.served[0]?.body).toBeDefined());
    controller.abort();
    await pending;
    // The provider has the request and bills it: the gateway reads its answer to the end.
    let record: RequestRecord | undefined;
    await eventually(() => {
      record = stack.records.find((r) => r.timeMs >= startedAt && r.endpoint === '/v1/chat/completions');
      expect(record).toBeDefined();
    });
    const served = onlyServed(stack);
    expect(served.completed).toBe(true);
    expect(served.clientClosedAt).toBeNull();
    // The ledger says the client left (499), and what the provider billed.
    expect(record).toMatchObject({
      status: 499,
      errorCode: null,
      settlement: 'usage',
      costNano: mockCost(served),
    });
    expect((await budgetTotals(stack)).reserved).toBe(0);
  });
});

describe('the provider stream breaks', () => {
  it('openai: the client gets the chunks that came, then an error event its SDK raises; they are billed', async () => {
    const before = await budgetTotals(stack);
    const { data: stream, response } = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', messages, max_tokens: 100, stream: true },
        { headers: { 'x-mock-fail': 'broken-stream:5' } },
      )
      .withResponse();
    let text = '';
    // Issue #14 item 5: a broken stream must not look complete to the SDK.
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow(/broke off/);
    const served = onlyServed(stack);
    expect(served.usage).toBeNull();
    expect(served.outputTokensSent).toBe(5);
    expect(text).toBe(generatedText(5));

    const record = await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o');
    expect(record.outputTokens).toBe(5);
    expect(record.status).toBe(200);
    await eventually(async () => {
      const after = await budgetTotals(stack);
      expect(after.spent - before.spent).toBeCloseTo(record.costNano / 1e9, 9);
    });
  });

  it.each([
    ['/v1/completions', { model: 'gpt-4o-mini', prompt: 'Once upon a time', max_tokens: 100 }],
    ['/v1/responses', { model: 'gpt-4o-mini', input: 'Once upon a time', max_output_tokens: 100 }],
  ])('%s: the partial output is counted and billed', async (path, body) => {
    const response = await fetch(`${stack.gateway.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-fail': 'broken-stream:4',
      },
      body: JSON.stringify({ ...body, stream: true }),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(onlyServed(stack).outputTokensSent).toBe(4);
    const record = await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o-mini');
    expect(record.outputTokens).toBe(4);
  });

  it('anthropic: the SDK gets the partial message; the partial output is billed', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': TEST_KEY,
        'anthropic-version': '2023-06-01',
        'x-mock-fail': 'broken-stream:3',
      },
      body: JSON.stringify({ model: 'claude-haiku-4-5', messages, max_tokens: 100, stream: true }),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain('event: message_start');
    expect(body).not.toContain('event: message_stop');
    const served = onlyServed(stack);
    expect(served.outputTokensSent).toBe(3);
    const record = await expectCountedAndBilled(
      response.headers.get('x-gateway-request-id'),
      'claude-haiku-4-5',
    );
    expect(record.outputTokens).toBe(3);
  });

  it('garbage events are relayed as the provider sent them; whatever was readable is billed', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-fail': 'garbage-sse',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages, max_tokens: 100, stream: true }),
    });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain(`"content":"${generatedText(2).slice('Hello'.length)}"`);
    expect(body).toContain('data: this is not json\n\n');
    expect(body.endsWith('data: [DONE\n\n')).toBe(true);
    const served = onlyServed(stack);
    expect(served.usage).toBeNull();
    const record = await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o-mini');
    expect(record.outputTokens).toBeGreaterThanOrEqual(2);
  });
});

describe('usage reported too early (x-mock-first-chunk-usage)', () => {
  const post = (headers: Record<string, string>) =>
    fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, ...headers },
      body: JSON.stringify({ model: 'gpt-4o', messages, max_tokens: 5000, stream: true }),
    });

  // Paced at 10 tokens a millisecond (a fast provider), not one burst: the answer is metered, and
  // an answer arriving faster than its next slice can be reserved is cut at the budget (meter.ts).
  const paced = { 'x-mock-chunks': '300', 'x-mock-chunk-delay-ms': '1' };

  it('a first chunk reporting 1 token, then 3000 tokens of text, then a break: billed for the text', async () => {
    const response = await post({
      ...paced,
      'x-mock-output-tokens': '3000',
      'x-mock-first-chunk-usage': '1',
      'x-mock-fail': 'broken-stream:100000',
    });
    const text = await response.text();
    expect(text.length).toBeGreaterThan(10_000);
    const served = onlyServed(stack);
    expect(served.outputTokensSent).toBe(3000);
    const record = await expectCountedAndBilled(response.headers.get('x-gateway-request-id'), 'gpt-4o');
    expect(record.outputTokens).toBeGreaterThanOrEqual(2900);
    expect(record.outputTokens).toBeLessThanOrEqual(3000);
  });

  it('the same stream ending normally: the last report counts', async () => {
    const response = await post({
      ...paced,
      'x-mock-output-tokens': '3000',
      'x-mock-first-chunk-usage': '1',
    });
    await response.text();
    const served = onlyServed(stack);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record).toMatchObject({ settlement: 'usage', outputTokens: 3000, costNano: mockCost(served) });
  });
});
