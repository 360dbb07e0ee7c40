/**
 * Tracing's CPU per request, in process: a request's span work (server span from a client
 * traceparent, admission, one upstream attempt with context injection, the plain answer, the end
 * from the record) plus its share of the batched OTLP/HTTP protobuf export to a local receiver,
 * against the same request bookkeeping with tracing off. Steadier than the HTTP runs' CPU per
 * request on a busy machine, where the difference drowns in noise.
 */
import type { AdmissionGranted } from '../../src/budget/types.js';
import type { RuntimeModel } from '../../src/config/runtime.js';
import { chatCompletionsAdapter } from '../../src/providers/openai.js';
import { RequestState } from '../../src/routes/proxy/request-state.js';
import { createTracing, type Tracing } from '../../src/telemetry/tracing.js';
import { MODEL } from './workload.js';

export interface TracingCostFigure {
  requests: number;
  /** Spans the queue dropped during the measurement (0 unless the receiver was too slow). */
  droppedSpans: number;
  /** CPU per request with tracing on minus off, µs (export and the local receiver included). */
  addedCpuUs: number;
  onCpuUs: number;
  offCpuUs: number;
}

const model: RuntimeModel = {
  name: MODEL,
  provider: {
    name: 'openai',
    kind: 'openai',
    baseUrl: 'http://127.0.0.1:9/v1',
    apiKey: 'k',
    headers: {},
    timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 },
    connections: 1,
  },
  upstreamModel: MODEL,
  price: { input: 150_000, output: 600_000, cachedInput: 75_000, cacheWrite: 150_000 },
  maxOutputTokens: 16384,
  capField: 'max_tokens',
};

const granted = {
  ok: true,
  reservation: {
    id: 'r',
    amountNano: 1000,
    lines: ['bench-key', 'bench-team', 'per-user', 'everything'].map((budgetId) => ({ budgetId })),
  },
  servedModel: model,
  outputCap: 256,
  reservedOutputTokens: 256,
  capChanged: false,
  clamped: false,
  estimateNano: 1000,
  promptTokens: 40,
} as unknown as AdmissionGranted;

const answer = {
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
};

async function oneRequest(tracing: Tracing | undefined, i: number): Promise<void> {
  const state = new RequestState(`req-${i}`, '/v1/chat/completions', 0);
  const headers: Record<string, string> = {
    traceparent: `00-${(i + 1).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`,
  };
  state.trace = tracing?.startRequest(chatCompletionsAdapter, headers, state.startedAt);
  state.trace?.admission(granted, {});
  const send = async () => ({ statusCode: 200 });
  await (state.trace ? state.trace.upstream(model, 256, headers, send) : send());
  state.trace?.answer(answer);
  Object.assign(state.record, {
    status: 200,
    requestedModel: MODEL,
    servedModel: MODEL,
    inputTokens: 40,
    outputTokens: 20,
    costNano: 18_000,
    estimateNano: 160_000,
    settlement: 'usage',
  });
  state.finish(() => {});
}

/** Requests between two flushes: their spans fit the queue, so every span is exported and counted. */
const FLUSH_EVERY = 256;

async function cpuPerRequest(tracing: Tracing | undefined, requests: number): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    await oneRequest(tracing, i); // warm-up (JIT)
    if (i % FLUSH_EVERY === 0) await tracing?.flush();
  }
  await tracing?.flush();
  const start = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    await oneRequest(tracing, i);
    // A loop makes spans far faster than traffic would: flushing keeps the queue from dropping.
    if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await tracing?.flush();
  }
  await tracing?.flush();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / requests;
}

export async function tracingCost(otlpEndpoint: string, requests: number): Promise<TracingCostFigure> {
  let droppedSpans = 0;
  const tracing = createTracing(
    {
      otlp: {
        url: `${otlpEndpoint}/v1/traces`,
        protocol: 'http/protobuf',
        headers: {},
        timeoutMs: 10_000,
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
        scheduledDelayMs: 1000,
      },
      captureContent: false,
      serviceName: 'bench',
    },
    {
      onDropped: (_reason, count) => {
        droppedSpans += count;
      },
    },
  );
  try {
    const offCpuUs = await cpuPerRequest(undefined, requests);
    const onCpuUs = await cpuPerRequest(tracing, requests);
    return { requests, droppedSpans, onCpuUs, offCpuUs, addedCpuUs: onCpuUs - offCpuUs };
  } finally {
    await tracing?.shutdown();
  }
}
