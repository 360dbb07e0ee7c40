/**
 * Request shapes for the worst-case tests (worst-case.property.test.ts, worst-case-budgets.test.ts):
 * a fast-check generator over every proxy endpoint, `n` / `best_of` / prompt arrays, caps absent,
 * present or both, streams and not; sending one through the gateway; and what the mock billed for
 * it at the model's price (from the mock's own usage record, not the gateway's reading of it).
 */
import fc from 'fast-check';
import type { ServedRecord } from '../../src/mock/types.js';
import type { Nano } from '../../src/money.js';
import { costOfUsage } from '../../src/usage.js';
import type { Stack } from '../helpers/stack.js';
import { TEST_KEY } from '../helpers/stack.js';

export interface Shape {
  path: string;
  body: Record<string, unknown>;
  /** x-mock-* headers: how much the mock generates per sequence (it fills the cap when below). */
  headers: Record<string, string>;
}

const words = fc.constantFrom('Hello there.', 'Write a poem about budgets.', 'Count to ten.', 'x');
const text = fc.array(words, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(' '));
const cap = fc.integer({ min: 1, max: 300 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const mockHeaders = fc.record({
  output: fc.integer({ min: 0, max: 400 }),
  reasoning: fc.integer({ min: 0, max: 40 }),
});

function headersOf(h: { output: number; reasoning: number }, reasoning: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'x-mock-output-tokens': String(h.output) };
  if (reasoning) headers['x-mock-reasoning-tokens'] = String(h.reasoning);
  return headers;
}

/** Drops undefined members, so an absent field is absent from the JSON. */
function defined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

const chat = fc
  .record({
    model: fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'o3-mini'),
    content: text,
    n: maybe(fc.integer({ min: 1, max: 8 })),
    caps: fc.constantFrom('none', 'max_tokens', 'max_completion_tokens', 'both'),
    a: cap,
    b: cap,
    stream: fc.boolean(),
    mock: mockHeaders,
  })
  .map(
    (r): Shape => ({
      path: '/v1/chat/completions',
      body: defined({
        model: r.model,
        messages: [{ role: 'user', content: r.content }],
        n: r.n,
        max_tokens: r.caps === 'max_tokens' || r.caps === 'both' ? r.a : undefined,
        max_completion_tokens: r.caps === 'max_completion_tokens' || r.caps === 'both' ? r.b : undefined,
        stream: r.stream,
      }),
      headers: headersOf(r.mock, r.model === 'o3-mini'),
    }),
  );

const prompt = fc.oneof(
  text,
  fc.array(text, { minLength: 1, maxLength: 6 }),
  fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }),
  fc.array(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 5 }), {
    minLength: 1,
    maxLength: 4,
  }),
);

const completions = fc
  .record({
    prompt,
    n: maybe(fc.integer({ min: 1, max: 4 })),
    extraBestOf: maybe(fc.integer({ min: 0, max: 3 })),
    maxTokens: maybe(cap),
    stream: fc.boolean(),
    mock: mockHeaders,
  })
  .map((r): Shape => {
    const n = r.n ?? 1;
    let bestOf = r.extraBestOf === undefined ? undefined : n + r.extraBestOf;
    // best_of > 1 cannot be streamed (refused with 400): keep the generated shapes servable.
    const stream = r.stream && (bestOf ?? n) <= 1 ? r.stream : false;
    if (stream && bestOf !== undefined && bestOf > 1) bestOf = undefined;
    return {
      path: '/v1/completions',
      body: defined({
        model: 'gpt-4o-mini',
        prompt: r.prompt,
        n: r.n,
        best_of: bestOf,
        max_tokens: r.maxTokens,
        stream,
      }),
      headers: headersOf(r.mock, false),
    };
  });

const responses = fc
  .record({ input: text, cap: maybe(cap), stream: fc.boolean(), mock: mockHeaders, previous: fc.boolean() })
  .map(
    (r): Shape => ({
      path: '/v1/responses',
      body: defined({
        model: 'gpt-4o-mini',
        input: r.input,
        max_output_tokens: r.cap,
        stream: r.stream,
        previous_response_id: r.previous ? 'resp_not_served_here' : undefined,
      }),
      headers: headersOf(r.mock, false),
    }),
  );

const messages = fc
  .record({ content: text, cap, stream: fc.boolean(), mock: mockHeaders, thinking: fc.boolean() })
  .map(
    (r): Shape => ({
      path: '/v1/messages',
      body: defined({
        model: 'claude-haiku-4-5',
        max_tokens: r.cap + (r.thinking ? 1100 : 0),
        messages: [{ role: 'user', content: r.content }],
        stream: r.stream,
        thinking: r.thinking ? { type: 'enabled', budget_tokens: 1024 } : undefined,
      }),
      headers: headersOf(r.mock, r.thinking),
    }),
  );

const embeddings = fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 5 })).map(
  (input): Shape => ({
    path: '/v1/embeddings',
    body: { model: 'text-embedding-3-small', input },
    headers: {},
  }),
);

export const shapes: fc.Arbitrary<Shape> = fc.oneof(chat, completions, responses, messages, embeddings);

export interface Sent {
  status: number;
  /** The gateway's request id (x-gateway-request-id), '' when it refused before admission. */
  requestId: string;
  text: string;
}

/** Sends a shape through the gateway and reads the whole answer (streams to their end). */
export async function send(stack: Stack, shape: Shape, key = TEST_KEY): Promise<Sent> {
  const anthropic = shape.path === '/v1/messages';
  const res = await fetch(`${stack.gateway.url}${shape.path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(anthropic
        ? { 'x-api-key': key, 'anthropic-version': '2023-06-01' }
        : { authorization: `Bearer ${key}` }),
      ...shape.headers,
    },
    body: JSON.stringify(shape.body),
  });
  return {
    status: res.status,
    requestId: res.headers.get('x-gateway-request-id') ?? '',
    text: await res.text(),
  };
}

/** What the mock billed for one served request, at the gateway's configured price of its model. */
export function billedNano(stack: Stack, served: ServedRecord, modelName: string): Nano {
  const model = stack.gateway.config().models.get(modelName);
  if (!model) throw new Error(`no model ${modelName}`);
  const u = served.usage;
  if (!u) return 0;
  return costOfUsage(
    {
      inputTokens: u.input_tokens,
      cachedInputTokens: u.cached_tokens,
      cacheWriteTokens: u.cache_write_tokens,
      outputTokens: u.output_tokens,
      reasoningTokens: u.reasoning_tokens,
    },
    model.price,
  );
}
