/**
 * A request's spans in process, through the SDK's in-memory exporter: the event API the metered
 * stream will call, an attempt that fails before an answer, the admission's decision, content
 * bounded when captured, and no tracer at all when tracing is off.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { model, providers } from '../budget/fixtures.test-helpers.js';
import type { AdmissionGranted } from '../budget/types.js';
import type { RuntimeTelemetry } from '../config/runtime.js';
import { chatCompletionsAdapter } from '../providers/openai.js';
import { RequestState } from '../routes/proxy/request-state.js';
import { CUT_MARK, inputMessages, MAX_CONTENT_CHARS } from './content.js';
import { createTracing } from './tracing.js';

const OFF: RuntimeTelemetry = { otlp: undefined, captureContent: false, serviceName: 'test' };
const gpt = model('gpt-4o-mini', providers.openai, 0.15, 0.6, 16384);

function granted(overrides: Partial<AdmissionGranted> = {}): AdmissionGranted {
  return {
    ok: true,
    reservation: { id: 'r1', amountNano: 100, lines: [{ budgetId: 'team-web' } as never] },
    servedModel: gpt,
    outputCap: 64,
    reservedOutputTokens: 64,
    capChanged: true,
    clamped: true,
    estimateNano: 100,
    promptTokens: 9,
    waitedMs: 0,
    ...overrides,
  };
}

function traced(settings: Partial<RuntimeTelemetry> = {}) {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing({ ...OFF, ...settings }, { exporter })!;
  const state = new RequestState('req-1', '/v1/chat/completions', 0);
  state.trace = tracing.startRequest(chatCompletionsAdapter, {}, state.startedAt);
  const spans = async () => {
    await tracing.flush();
    return exporter.getFinishedSpans();
  };
  return { state, trace: state.trace, spans };
}

describe('RequestTrace', () => {
  it('adds span events to the server span (metered-stream extensions)', async () => {
    const { state, trace, spans } = traced();
    trace.event('budget.extend', { 'llm_gateway.extend.tokens': 1024, 'llm_gateway.extend.granted': true });
    state.record.status = 200;
    state.finish(() => {});
    const [server] = await spans();
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(server!.events.map((e) => [e.name, e.attributes])).toEqual([
      ['budget.extend', { 'llm_gateway.extend.tokens': 1024, 'llm_gateway.extend.granted': true }],
    ]);
  });

  it('ends a failed attempt with its error.type, then the request with the decision', async () => {
    const { state, trace, spans } = traced();
    trace.admission(granted(), {});
    const headers: Record<string, string> = { traceparent: 'from-the-client', tracestate: 'x=1' };
    const failure = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
    await expect(
      trace.upstream(gpt, 64, headers, () => Promise.reject<{ statusCode: number }>(failure)),
    ).rejects.toBe(failure);
    // The client's context was replaced by the attempt's (the same trace), and tracestate dropped.
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(headers.tracestate).toBeUndefined();
    Object.assign(state.record, {
      status: 502,
      errorCode: 'provider_unreachable',
      requestedModel: 'gpt-4o-mini',
    });
    state.finish(() => {});
    const finished = await spans();
    const client = finished.find((s) => s.kind === SpanKind.CLIENT)!;
    const server = finished.find((s) => s.kind === SpanKind.SERVER)!;
    expect(headers.traceparent).toContain(client.spanContext().spanId);
    expect(client.attributes['error.type']).toBe('ECONNREFUSED');
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(server.name).toBe('chat gpt-4o-mini');
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes).toMatchObject({
      'error.type': 'provider_unreachable',
      'llm_gateway.decision': 'clamped',
      'llm_gateway.budget_ids': ['team-web'],
    });
  });

  it('honours a client trace that is not sampled: nothing recorded, the context still sent on', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(OFF, { exporter })!;
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const state = new RequestState('req-2', '/v1/chat/completions', 0);
    state.trace = tracing.startRequest(
      chatCompletionsAdapter,
      { traceparent: `00-${traceId}-b7ad6b7169203331-00` },
      state.startedAt,
    );
    const headers: Record<string, string> = {};
    await state.trace.upstream(gpt, 64, headers, async () => ({ statusCode: 200 }));
    state.record.status = 200;
    state.finish(() => {});
    await tracing.flush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  it('bounds captured content', () => {
    const long = 'x'.repeat(MAX_CONTENT_CHARS * 2);
    const captured = inputMessages({ messages: [{ role: 'user', content: long }] })!;
    expect(captured.length).toBe(MAX_CONTENT_CHARS);
    expect(captured.endsWith(CUT_MARK)).toBe(true);
  });

  it('is not created when tracing is off', () => {
    expect(createTracing(OFF)).toBeUndefined();
  });
});
