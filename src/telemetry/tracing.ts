/**
 * The gateway's tracer: the OpenTelemetry JS SDK with a BatchSpanProcessor in front of an
 * OTLP/HTTP exporter (protobuf or JSON). Spans are queued when they end and exported in batches on
 * a timer, so the request path only appends to a bounded array; past `max_queue_size` the SDK
 * drops new spans, and they are counted (llm_gateway_telemetry_spans_dropped_total).
 *
 * The SDK reports drops only through its self-observability meter (the
 * `otel.sdk.processor.span.processed` counter, error.type `queue_full`, and the export errors by
 * their error name), so the processor gets a meter of its own that turns those into the callback.
 *
 * Nothing is registered globally (no global tracer provider, propagator or context manager): the
 * request's context is passed explicitly (request-trace.ts), so the gateway's tracing cannot be
 * changed by, or leak into, a library's instrumentation.
 * createTracing answers undefined when tracing is off: no provider, no exporter, no timer.
 */
import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  ROOT_CONTEXT,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type BufferConfig,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { RuntimeTelemetry } from '../config/runtime.js';
import type { HeaderRecord } from '../providers/headers.js';
import type { EndpointAdapter } from '../providers/types.js';
import { RequestTrace } from './request-trace.js';

const TRACER_NAME = 'llm-budget-gateway';
/**
 * Longest a shutdown waits for the last export: a collector that is down would otherwise hold the
 * process for the exporter's retries. Spans still queued then are lost.
 */
const SHUTDOWN_MAX_MS = 5000;
/** The SDK's own counter of spans that left the processor, failed ones with an error.type. */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';

export type DropReason = 'queue_full' | 'export_failed';

export interface TracingOptions {
  /** Spans lost: the queue was full when they ended, or their export failed. */
  onDropped?(reason: DropReason, count: number): void;
  /** Replaces the OTLP exporter (tests). */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Starts a request's server span, a child of the client's `traceparent` when it sent one. */
  startRequest(adapter: EndpointAdapter, headers: HeaderRecord, startTime: number): RequestTrace;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Exports what is queued and stops (gateway close); waits at most min(timeout_ms, 5 s). */
  shutdown(): Promise<void>;
}

export function createTracing(config: RuntimeTelemetry, options: TracingOptions = {}): Tracing | undefined {
  const otlp = config.otlp;
  if (!otlp && !options.exporter) return undefined;
  const exporter = options.exporter ?? otlpExporter(config);
  const buffer: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
    maxQueueSize: otlp?.maxQueueSize ?? 2048,
    maxExportBatchSize: otlp?.maxExportBatchSize ?? 512,
    scheduledDelayMillis: otlp?.scheduledDelayMs ?? 1000,
    exportTimeoutMillis: otlp?.timeoutMs ?? 10_000,
    selfObsMeterProvider: dropMeter(options.onDropped),
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, buffer)],
  });
  const tracer = provider.getTracer(TRACER_NAME);
  const propagator = new W3CTraceContextPropagator();
  const settings = { tracer, propagator, captureContent: config.captureContent };
  return {
    startRequest(adapter, headers, startTime) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      return new RequestTrace(settings, adapter, parent, startTime);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => {
      const bound = Math.min(otlp?.timeoutMs ?? SHUTDOWN_MAX_MS, SHUTDOWN_MAX_MS);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, bound);
        timer.unref();
      });
      return Promise.race([provider.shutdown(), deadline]).finally(() => clearTimeout(timer));
    },
  };
}

function otlpExporter(config: RuntimeTelemetry): SpanExporter {
  const otlp = config.otlp!;
  const options = { url: otlp.url, headers: otlp.headers, timeoutMillis: otlp.timeoutMs };
  return otlp.protocol === 'http/json' ? new JsonTraceExporter(options) : new ProtobufTraceExporter(options);
}

/** Reads a lower-case header record (the propagator asks for `traceparent` and `tracestate`). */
const headerGetter = {
  get: (carrier: HeaderRecord, key: string) => carrier[key],
  keys: (carrier: HeaderRecord) => Object.keys(carrier),
};

/** A meter whose only live instrument is the processor's span counter, read for losses. */
function dropMeter(onDropped: TracingOptions['onDropped']): MeterProvider {
  const meter: Meter = createNoopMeter();
  const noopCounter = meter.createCounter.bind(meter);
  meter.createCounter = <A extends Attributes>(name: string, options?: object): Counter<A> => {
    if (name !== PROCESSED_SPANS || !onDropped) return noopCounter(name, options);
    return {
      add(count: number, attributes?: A) {
        const error = attributes?.['error.type'];
        if (error === undefined) return;
        onDropped(error === 'queue_full' ? 'queue_full' : 'export_failed', count);
      },
    };
  };
  return { getMeter: () => meter };
}
