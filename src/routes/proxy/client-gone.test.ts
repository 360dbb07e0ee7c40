/**
 * Clients that leave after their request went upstream (issue 12): the request is billed (the
 * provider was sent it), and no reservation outlives its request — asserted on the store's balances
 * the moment the last record is emitted, on SQLite and Redis.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../../test/helpers/redis.js';
import {
  eventually,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  type StackOptions,
  startStack,
  TEST_KEY,
} from '../../../test/helpers/stack.js';
import type { RequestRecord } from '../../record.js';
import { budgetTotals, GLOBAL_BUDGET_YAML, priceOf } from './stack.test-helpers.js';

/** ~40k gpt-4o tokens: $0.10 of input at $2.50 per million. */
const BIG_PROMPT = 'budget '.repeat(40_000);
const PROMPT_COST_USD = (40_000 * priceOf('gpt-4o').input) / 1e12;

type AbortAt =
  /** ms after the request was sent (the scenario: whatever the gateway is doing then) */
  | number
  /** once the provider has the whole request, before it answers */
  | 'received'
  /** once the response headers arrived */
  | 'headers'
  /** after two reads of the streamed body */
  | 'mid-stream';

let sequence = 0;

/**
 * One request whose client leaves at `abort` (a node:http client, so a timed abort counts from the
 * moment the whole body was handed to the socket: the gateway surely got the request). Resolves
 * once the client is gone.
 */
function send(
  stack: Stack,
  options: { stream: boolean; abort: AbortAt; headers?: Record<string, string> },
): Promise<void> {
  const { abort } = options;
  const tag = String(++sequence);
  const body = JSON.stringify({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: BIG_PROMPT }],
    max_tokens: 50,
    stream: options.stream,
  });
  return new Promise<void>((resolve) => {
    const request = httpRequest(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${TEST_KEY}`,
        'x-mock-test-tag': tag,
        ...options.headers,
      },
    });
    const leave = () => {
      request.destroy();
      resolve();
    };
    request.on('error', () => resolve());
    request.on('close', () => resolve());
    request.on('response', (response) => {
      if (abort === 'headers') return leave();
      let reads = 0;
      response.on('data', () => {
        if (abort === 'mid-stream' && ++reads === 2) leave();
      });
      response.on('error', () => resolve());
    });
    request.end(body, () => {
      if (typeof abort === 'number') setTimeout(leave, abort);
    });
    if (abort === 'received') {
      void eventually(() => {
        const got = stack.mock.served.some(
          (s) => s.headers['x-mock-test-tag'] === tag && s.body !== undefined,
        );
        expect(got).toBe(true);
      }, 8000).then(leave);
    }
  });
}

/** The gateway's records for requests that started at or after `since`, once there are `count`. */
async function recordsSince(stack: Stack, since: number, count: number): Promise<RequestRecord[]> {
  let found: RequestRecord[] = [];
  await eventually(() => {
    found = stack.records.filter((r) => r.timeMs >= since && r.endpoint === '/v1/chat/completions');
    expect(found).toHaveLength(count);
  }, 15_000);
  return found;
}

/** Requests the provider got whole (the mock parsed their body). */
function receivedWhole(stack: Stack): number {
  return stack.mock.served.filter((s) => s.body !== undefined).length;
}

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.close();
});

describe.each([
  ['sqlite', () => ({})],
  ['redis', () => ({ store: { type: 'redis', url: redis.url, prefix: `gone${Date.now()}` } })],
] as Array<[string, () => StackOptions]>)('%s', (name, storeOptions) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...storeOptions(), extraYaml: GLOBAL_BUDGET_YAML });
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(() => stack.mock.reset());

  it('twelve 40k-token prompts, provider thinking 700 ms, clients gone at 350 ms: billed, nothing held', async () => {
    const since = Date.now();
    const before = await budgetTotals(stack);
    const sent = Array.from({ length: 12 }, (_, i) =>
      send(stack, { stream: i % 2 === 0, abort: 350, headers: { 'x-mock-latency-ms': '700' } }),
    );
    await Promise.all(sent);
    const records = await recordsSince(stack, since, 12);
    // Nothing is in flight any more: nothing may stay reserved.
    const after = await budgetTotals(stack);
    expect(after.reserved).toBe(0);
    const received = receivedWhole(stack);
    const booked = after.spent - before.spent;
    console.log(
      `[${name}] 12 prompts gone at 350 ms: provider received ${received} whole` +
        ` ($${(received * PROMPT_COST_USD).toFixed(2)} of prompts); books say $${booked.toFixed(4)};` +
        ` reserved after $${after.reserved}`,
    );
    // Every prompt the provider received is billed, at least its input.
    expect(booked).toBeGreaterThanOrEqual(received * PROMPT_COST_USD - 1e-9);
    for (const record of records) expect(record.status).toBe(499);
    expect(records.filter((r) => r.settlement !== 'released').length).toBeGreaterThanOrEqual(received);
  });

  it('twelve prompts whose clients leave once the provider has them: all billed, nothing held', async () => {
    const since = Date.now();
    const before = await budgetTotals(stack);
    const sent = Array.from({ length: 12 }, (_, i) =>
      send(stack, { stream: i % 2 === 0, abort: 'received', headers: { 'x-mock-latency-ms': '700' } }),
    );
    await Promise.all(sent);
    const records = await recordsSince(stack, since, 12);
    const after = await budgetTotals(stack);
    expect(after.reserved).toBe(0);
    const booked = after.spent - before.spent;
    console.log(
      `[${name}] 12 prompts gone once received: provider received ${receivedWhole(stack)} whole` +
        ` ($${(12 * PROMPT_COST_USD).toFixed(2)} of prompts); books say $${booked.toFixed(4)};` +
        ` reserved after $${after.reserved}`,
    );
    expect(receivedWhole(stack)).toBe(12);
    expect(booked).toBeGreaterThanOrEqual(12 * PROMPT_COST_USD - 1e-9);
    for (const record of records) {
      expect(record.status).toBe(499);
      expect(record.inputTokens).toBeGreaterThanOrEqual(40_000);
      // Plain: read to the end after the client left, billed at the provider's usage. Streams: cut,
      // billed the prompt.
      expect(record.settlement).toBe(record.stream ? 'counted' : 'usage');
    }
  });

  it('aborts at every moment, streamed and plain: reserved is 0 once nothing is in flight', async () => {
    const since = Date.now();
    const slow = { 'x-mock-output-tokens': '400', 'x-mock-chunk-delay-ms': '25' };
    const cases: Array<{ stream: boolean; abort: AbortAt; headers?: Record<string, string> }> = [
      { stream: false, abort: 0 },
      { stream: true, abort: 0 },
      { stream: false, abort: 'received', headers: { 'x-mock-latency-ms': '300' } },
      { stream: true, abort: 'received', headers: { 'x-mock-latency-ms': '300' } },
      { stream: true, abort: 'headers', headers: slow },
      { stream: true, abort: 'mid-stream', headers: slow },
    ];
    await Promise.all(cases.map((c) => send(stack, c)));
    const records = await recordsSince(stack, since, cases.length);
    expect((await budgetTotals(stack)).reserved).toBe(0);
    // Whatever the provider had is billed at least its prompt; the rest released.
    const billed = records.filter((r) => r.settlement !== 'released');
    expect(billed.length).toBeGreaterThanOrEqual(receivedWhole(stack));
    for (const record of billed) expect(record.inputTokens).toBeGreaterThanOrEqual(40_000);
  });
});

describe('written upstream, or not', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      extraYaml: GLOBAL_BUDGET_YAML,
      providersYaml: `  one-lane: { kind: openai, base_url: "MOCK/v1", api_key: ${OPENAI_UPSTREAM_KEY}, connections: 1 }`,
      modelsYaml: '  lane-model: { provider: one-lane, upstream_model: gpt-4o, input: 2.5, output: 10 }',
      mockUrlPlaceholder: 'MOCK',
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a request still waiting for a pooled connection when its client leaves: not sent, released at once', async () => {
    const since = Date.now();
    const post = (signal?: AbortSignal) =>
      fetch(`${stack.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${TEST_KEY}`,
          'x-mock-latency-ms': '1500',
        },
        body: JSON.stringify({
          model: 'lane-model',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 5,
        }),
        signal,
      }).catch((e: unknown) => e);
    // The first request holds the provider's only connection.
    const first = post();
    await eventually(() => expect(stack.mock.served).toHaveLength(1));
    const oneReserved = (await budgetTotals(stack)).reserved;
    expect(oneReserved).toBeGreaterThan(0);
    // The second is admitted (its reservation is held) and queued behind it.
    const controller = new AbortController();
    const second = post(controller.signal);
    await eventually(async () =>
      expect((await budgetTotals(stack)).reserved).toBeCloseTo(2 * oneReserved, 9),
    );
    controller.abort();
    await second;
    // Released while the first is still running: the queue does not hold it.
    const [record] = await recordsSince(stack, since, 1);
    expect(record).toMatchObject({ status: 499, settlement: 'released', costNano: 0 });
    expect(stack.mock.served.filter((s) => s.body !== undefined)).toHaveLength(1);
    expect((await budgetTotals(stack)).reserved).toBeCloseTo(oneReserved, 9);
    await first;
    await recordsSince(stack, since, 2);
    // The provider never saw the second one.
    expect(stack.mock.served).toHaveLength(1);
    expect((await budgetTotals(stack)).reserved).toBe(0);
  });
});
