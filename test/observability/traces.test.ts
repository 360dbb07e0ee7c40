/**
 * OpenTelemetry traces, end to end: the gateway (official SDK clients in front, the mock provider
 * behind) exports OTLP/HTTP to a real receiver. Checked: the server span continues the client's
 * traceparent, one client span per upstream attempt is its child and is what the provider got as
 * traceparent, GenAI attributes and token counts equal what the mock reported, fallbacks and
 * refusals, protobuf exports, a stuck collector (spans dropped and counted, requests unaffected),
 * and tracing off (no tracer; the client's traceparent passes through untouched).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServedRecord } from '../../src/mock/server.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  eventually,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../helpers/stack.js';

const BUDGETS = `
fallbacks:
  gpt-4o: [o3-mini]
budgets:
  - { id: everything, scope: global, limit_usd: 100, period: none }
  - { id: data-tiny, scope: { team: data }, limit_usd: 0.000001, period: none }
`;

function telemetryYaml(receiver: OtlpReceiver, protocol: string, extra = ''): string {
  return `
telemetry:
  otlp: { endpoint: "${receiver.url}", protocol: ${protocol}, scheduled_delay_ms: 60000${extra} }
  service_name: gateway-under-test
`;
}

/** A client's own trace context: the gateway's server span must be its child. */
function clientTraceparent(seed: string): { traceId: string; parentId: string; header: string } {
  const traceId = seed.repeat(32).slice(0, 32);
  const parentId = 'ab'.repeat(8);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

/** `00-<trace>-<span>-<flags>` */
function parseTraceparent(header: string | null): { traceId: string; spanId: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header ?? '');
  if (!match) throw new Error(`not a traceparent: ${header}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

/** The conventions' input_tokens counts cache reads and writes too (the mock reports them apart). */
function expectUsage(span: ReceivedSpan, served: ServedRecord): void {
  const usage = served.usage!;
  expect(usage).not.toBeNull();
  expect(span.attributes).toMatchObject({
    'gen_ai.usage.input_tokens': usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens,
    'gen_ai.usage.output_tokens': usage.output_tokens,
    'gen_ai.usage.cache_read.input_tokens': usage.cached_tokens,
    'gen_ai.usage.cache_creation.input_tokens': usage.cache_write_tokens,
    'gen_ai.usage.reasoning.output_tokens': usage.reasoning_tokens,
  });
}

describe('traces over OTLP/HTTP JSON', () => {
  let receiver: OtlpReceiver;
  let stack: Stack;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      extraYaml: `${BUDGETS}${telemetryYaml(receiver, 'http/json')}  capture_content: true\n`,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  /** Waits for the request's record (streams end after the client read them), then exports. */
  async function spansOf(traceId: string, records: number): Promise<ReceivedSpan[]> {
    await eventually(() => expect(stack.records.length).toBeGreaterThanOrEqual(records));
    await stack.gateway.tracing!.flush();
    return receiver.spans().filter((s) => s.traceId === traceId);
  }

  function one(spans: ReceivedSpan[], kind: number): ReceivedSpan {
    const found = spans.filter((s) => s.kind === kind);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  it('a plain request: server span under the client, client span under it, sent as traceparent', async () => {
    const client = clientTraceparent('1');
    const { data, response } = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o-mini', max_tokens: 30, messages: [{ role: 'user', content: 'secret-prompt-text' }] },
        { headers: { traceparent: client.header, 'x-mock-cached-tokens': '4' } },
      )
      .withResponse();
    const spans = await spansOf(client.traceId, stack.records.length);
    const server = one(spans, SPAN_KIND_SERVER);
    const upstream = one(spans, SPAN_KIND_CLIENT);
    const served = stack.mock.served.at(-1)!;

    expect(server.parentSpanId).toBe(client.parentId);
    expect(upstream.parentSpanId).toBe(server.spanId);
    expect(parseTraceparent(served.traceparent)).toEqual({
      traceId: client.traceId,
      spanId: upstream.spanId,
    });
    expect(server.resource['service.name']).toBe('gateway-under-test');

    expect(server.name).toBe('chat gpt-4o-mini');
    expect(server.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': data.model,
      'gen_ai.response.id': data.id,
      'gen_ai.response.finish_reasons': [data.choices[0]!.finish_reason],
      'http.response.status_code': 200,
      'llm_gateway.decision': 'served',
      'llm_gateway.budget_ids': ['everything'],
      'llm_gateway.cost_usd': Number(response.headers.get('x-gateway-cost-usd')),
      'llm_gateway.request_id': response.headers.get('x-gateway-request-id'),
    });
    expect(server.attributes['llm_gateway.estimated_cost_usd']).toBeGreaterThan(0);
    expect(served.usage!.cached_tokens).toBe(4);
    expectUsage(server, served);

    expect(upstream.name).toBe('chat gpt-4o-mini');
    expect(upstream.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 30,
      'http.response.status_code': 200,
      'llm_gateway.attempt': 1,
    });
    expectUsage(upstream, served);
    // capture_content is on in this stack: the prompt and the answer, as the conventions' messages.
    expect(JSON.parse(String(server.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'secret-prompt-text' }] },
    ]);
    expect(String(server.attributes['gen_ai.output.messages'])).toContain(data.choices[0]!.message.content);
    // Never a credential, in any export.
    const exported = receiver.exports.map((e) => e.body.toString('utf8')).join('\n');
    expect(exported).not.toContain(TEST_KEY);
    expect(exported).not.toContain(OPENAI_UPSTREAM_KEY);
  });

  it('a streamed request: usage from the stream on both spans', async () => {
    const client = clientTraceparent('2');
    const records = stack.records.length;
    const stream = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o-mini', max_tokens: 30, stream: true, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { traceparent: client.header, 'x-mock-chunks': '4' } },
      );
    for await (const _chunk of stream) {
      // drain
    }
    const spans = await spansOf(client.traceId, records + 1);
    const server = one(spans, SPAN_KIND_SERVER);
    const upstream = one(spans, SPAN_KIND_CLIENT);
    const served = stack.mock.served.at(-1)!;
    expect(served.stream).toBe(true);
    expect(parseTraceparent(served.traceparent)).toEqual({
      traceId: client.traceId,
      spanId: upstream.spanId,
    });
    expect(upstream.parentSpanId).toBe(server.spanId);
    expect(server.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'llm_gateway.decision': 'served',
      'http.response.status_code': 200,
    });
    expect(server.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expectUsage(server, served);
    expectUsage(upstream, served);
  });

  it('a metered stream: each slice it asks for is an event on the server span', async () => {
    const client = clientTraceparent('e');
    const records = stack.records.length;
    // 3,000 tokens, one a chunk: past the first 1,024-token slice, so the meter extends.
    const stream = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'long' }] },
        { headers: { traceparent: client.header, 'x-mock-output-tokens': '3000', 'x-mock-chunks': '3000' } },
      );
    for await (const _chunk of stream) {
      // drain
    }
    const server = one(await spansOf(client.traceId, records + 1), SPAN_KIND_SERVER);
    const extends_ = server.events.filter((e) => e.name === 'budget.extend');
    expect(extends_.length).toBeGreaterThan(0);
    expect(extends_[0]!.attributes).toMatchObject({ 'llm_gateway.extend.outcome': 'extended' });
  });

  it('a fallback: one client span per attempt, each the traceparent its provider call got', async () => {
    const client = clientTraceparent('3');
    const start = stack.mock.served.length;
    const { response } = await stack
      .openai()
      .chat.completions.create(
        { model: 'gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
        {
          headers: { traceparent: client.header, 'x-mock-fail': 'status:503', 'x-mock-fail-model': 'gpt-4o' },
        },
      )
      .withResponse();
    expect(response.headers.get('x-gateway-model')).toBe('o3-mini');
    const spans = await spansOf(client.traceId, stack.records.length);
    const server = one(spans, SPAN_KIND_SERVER);
    const attempts = spans
      .filter((s) => s.kind === SPAN_KIND_CLIENT)
      .sort(
        (a, b) => Number(a.attributes['llm_gateway.attempt']) - Number(b.attributes['llm_gateway.attempt']),
      );
    expect(attempts.map((s) => [s.name, s.attributes['http.response.status_code']])).toEqual([
      ['chat gpt-4o', 503],
      ['chat o3-mini', 200],
    ]);
    expect(attempts.every((s) => s.parentSpanId === server.spanId)).toBe(true);
    expect(attempts[0]!.attributes['error.type']).toBe('503');
    expect(attempts[0]!.status.code).toBe(2);
    expect(attempts[1]!.attributes['error.type']).toBeUndefined();
    const calls = stack.mock.served.slice(start);
    expect(calls.map((r) => parseTraceparent(r.traceparent).spanId)).toEqual(attempts.map((s) => s.spanId));
    expect(server.name).toBe('chat gpt-4o');
    expect(server.attributes).toMatchObject({
      'gen_ai.request.model': 'gpt-4o',
      'llm_gateway.served_model': 'o3-mini',
      'llm_gateway.decision': 'served',
    });
    expectUsage(attempts[1]!, calls[1]!);
  });

  it('a refusal: the server span says refused and why, and nothing went upstream', async () => {
    const client = clientTraceparent('4');
    const start = stack.mock.served.length;
    const refused = stack
      .openai(TEST_KEY_2)
      .chat.completions.create(
        { model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
        { headers: { traceparent: client.header } },
      );
    await expect(refused).rejects.toMatchObject({ status: 429 });
    const spans = await spansOf(client.traceId, stack.records.length);
    expect(spans).toHaveLength(1);
    expect(stack.mock.served.length).toBe(start);
    const server = one(spans, SPAN_KIND_SERVER);
    expect(server.parentSpanId).toBe(client.parentId);
    expect(server.attributes).toMatchObject({
      'http.response.status_code': 429,
      'error.type': 'budget_exceeded',
      'llm_gateway.decision': 'refused',
      'llm_gateway.refusal_reason': 'budget_exceeded',
      'llm_gateway.budget_ids': ['data-tiny'],
    });
    expect(server.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('Anthropic Messages: provider anthropic, cache reads and writes counted as input', async () => {
    const client = clientTraceparent('5');
    const message = await stack.anthropic().messages.create(
      { model: 'claude-haiku-4-5', max_tokens: 40, messages: [{ role: 'user', content: 'hello there' }] },
      {
        headers: {
          traceparent: client.header,
          'x-mock-cached-tokens': '3',
          'x-mock-cache-write-tokens': '2',
        },
      },
    );
    const spans = await spansOf(client.traceId, stack.records.length);
    const server = one(spans, SPAN_KIND_SERVER);
    const served = stack.mock.served.at(-1)!;
    expect(served.usage).toMatchObject({ cached_tokens: 3, cache_write_tokens: 2 });
    expect(server.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.response.id': message.id,
      'gen_ai.response.finish_reasons': [message.stop_reason],
    });
    expectUsage(server, served);
    expectUsage(one(spans, SPAN_KIND_CLIENT), served);
    const exported = receiver.exports.map((e) => e.body.toString('utf8')).join('\n');
    expect(exported).not.toContain(ANTHROPIC_UPSTREAM_KEY);
  });
});

describe('traces over OTLP/HTTP protobuf', () => {
  it('exports protobuf with the trace in it, and no prompt text with capture_content off', async () => {
    const receiver = await startOtlpReceiver();
    const stack = await startStack({ extraYaml: `${BUDGETS}${telemetryYaml(receiver, 'http/protobuf')}` });
    try {
      const client = clientTraceparent('6');
      await stack.openai().chat.completions.create(
        {
          model: 'gpt-4o-mini',
          max_tokens: 20,
          messages: [{ role: 'user', content: 'private-words-here' }],
        },
        { headers: { traceparent: client.header } },
      );
      await eventually(() => expect(stack.records).toHaveLength(1));
      await stack.gateway.tracing!.flush();
      expect(receiver.exports).toHaveLength(1);
      const [exported] = receiver.exports;
      expect(exported!.path).toBe('/v1/traces');
      expect(exported!.contentType).toBe('application/x-protobuf');
      // Protobuf carries ids as raw bytes and attribute keys as strings.
      expect(exported!.body.includes(Buffer.from(client.traceId, 'hex'))).toBe(true);
      expect(exported!.body.includes(Buffer.from('gen_ai.usage.input_tokens'))).toBe(true);
      expect(exported!.body.includes(Buffer.from('private-words-here'))).toBe(false);
      expect(exported!.body.includes(Buffer.from(TEST_KEY))).toBe(false);
    } finally {
      await stack.close();
      await receiver.close();
    }
  });
});

describe('a collector that does not answer', () => {
  it('drops spans past the queue bound, counts them, and holds no request back', async () => {
    const receiver = await startOtlpReceiver();
    receiver.hold();
    const stack = await startStack({
      extraYaml: `${BUDGETS}
telemetry:
  otlp: { endpoint: "${receiver.url}", protocol: http/json, max_queue_size: 2, max_export_batch_size: 1, scheduled_delay_ms: 1, timeout_ms: 3000 }
`,
    });
    try {
      const openai = stack.openai();
      for (let i = 0; i < 2; i++) {
        await openai.chat.completions.create({
          model: 'gpt-4o-mini',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
        });
      }
      // The first export is held by the receiver: from now on the queue only fills.
      await eventually(() => expect(receiver.held()).toBe(1));
      const started = performance.now();
      for (let i = 0; i < 6; i++) {
        await openai.chat.completions.create({
          model: 'gpt-4o-mini',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
        });
      }
      // Every request was answered while the first export was stuck (it gives up after timeout_ms):
      // 16 spans, at most 1 exporting + 2 queued kept.
      expect(performance.now() - started).toBeLessThan(3000);
      await eventually(() => expect(stack.records).toHaveLength(8));
      const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
      const dropped = Number(
        /llm_gateway_telemetry_spans_dropped_total\{reason="queue_full"\} (\d+)/.exec(metrics)?.[1],
      );
      expect(dropped).toBeGreaterThanOrEqual(16 - 3);
    } finally {
      // The held export fails once the receiver goes; shutdown then has nothing to wait for.
      await receiver.close();
      await stack.close();
    }
  });
});

describe('tracing off', () => {
  it('creates no tracer and passes the client traceparent to the provider unchanged', async () => {
    const stack = await startStack({ extraYaml: BUDGETS });
    try {
      expect(stack.gateway.tracing).toBeUndefined();
      const client = clientTraceparent('7');
      await stack
        .openai()
        .chat.completions.create(
          { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
          { headers: { traceparent: client.header, tracestate: 'vendor=abc' } },
        );
      const served = stack.mock.served.at(-1)!;
      expect(served.traceparent).toBe(client.header);
      expect(served.headers.tracestate).toBe('vendor=abc');
    } finally {
      await stack.close();
    }
  });
});
