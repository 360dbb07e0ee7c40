/**
 * One proxied request's spans: a SERVER span for the request as the client sees it, and a CLIENT
 * span per upstream attempt (a fallback shows as several), each named `{operation} {model}` as the
 * GenAI conventions say (semconv.ts pins which). The proxy feeds it through small hooks: the
 * request state starts it and ends it from the request record (request-state.ts), the admission
 * phase reports what the engine decided, forward.ts wraps the upstream call in upstream(), and the
 * plain relay hands over the parsed answer. Attributes carry counts, names and ids, never keys,
 * and text only when telemetry.capture_content is on.
 *
 * For the proxy's later phases, event() adds a span event to the server span (e.g. a metered
 * stream's `budget.extend`; docs/telemetry.md lists the names in use).
 */
import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Admission } from '../budget/types.js';
import type { RuntimeModel, RuntimeProvider } from '../config/runtime.js';
import type { HeaderRecord } from '../providers/headers.js';
import type { EndpointAdapter, ProviderKind, RequestBody } from '../providers/types.js';
import type { RequestRecord } from '../record.js';
import { inputMessages, outputMessages } from './content.js';
import { type ResponseFacts, responseFacts } from './response-facts.js';
import { ATTR, operationName } from './semconv.js';

export interface TraceSettings {
  tracer: Tracer;
  propagator: TextMapPropagator;
  captureContent: boolean;
}

/** Error codes of the gateway's own refusals: the decision is `refused`. */
const REFUSALS = new Set([
  'budget_exceeded',
  'budget_busy',
  'rate_limit_exceeded',
  'forbidden_model',
  'store_unavailable',
  'store_reset',
]);

const headerSetter = {
  set: (carrier: HeaderRecord, key: string, value: string) => {
    carrier[key] = value;
  },
};

export class RequestTrace {
  private readonly span: Span;
  private readonly context: Context;
  private readonly operation: string;
  /** The attempt whose answer is being relayed: ended with the request, usage on it. */
  private answering: Span | undefined;
  private attempts = 0;
  private readonly budgetIds = new Set<string>();
  private providerKind: ProviderKind | undefined;
  private refusal: string | undefined;
  private granted: { downgraded: boolean; clamped: boolean } | undefined;
  private response: ResponseFacts | undefined;
  private contentCaptured = false;

  constructor(
    private readonly settings: TraceSettings,
    adapter: EndpointAdapter,
    parent: Context,
    startTime: number,
  ) {
    this.operation = operationName(adapter.shape);
    this.span = settings.tracer.startSpan(
      this.operation,
      {
        kind: SpanKind.SERVER,
        startTime,
        attributes: {
          [ATTR.operationName]: this.operation,
          [ATTR.httpMethod]: 'POST',
          [ATTR.httpRoute]: adapter.path,
        },
      },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  /** A span event on the server span (metered-stream extensions and the like). */
  event(name: string, attributes?: Attributes): void {
    this.span.addEvent(name, attributes);
  }

  /** What the budget engine decided for one attempt's model (called again for a fallback). */
  admission(admission: Admission, body: RequestBody): void {
    if (this.settings.captureContent && !this.contentCaptured) {
      this.contentCaptured = true;
      const messages = inputMessages(body);
      if (messages !== undefined) this.span.setAttribute(ATTR.inputMessages, messages);
    }
    if (!admission.ok) {
      const denial = admission.denial;
      this.granted = undefined;
      this.refusal = denial.kind;
      if (denial.kind === 'budget_exceeded') this.budgetIds.add(denial.budgetId);
      return;
    }
    this.providerKind = admission.servedModel.provider.kind;
    this.refusal = undefined;
    this.granted = { downgraded: admission.downgradedFrom !== undefined, clamped: admission.clamped };
    for (const line of admission.reservation?.lines ?? []) this.budgetIds.add(line.budgetId);
  }

  /**
   * Wraps one upstream call in a CLIENT span and puts that span's context in the outgoing
   * `traceparent` / `tracestate` (replacing the client's, whose trace the span continues). A
   * failure or an error status ends the span; an answer keeps it open until the request ends.
   */
  async upstream<T extends { statusCode: number }>(
    model: RuntimeModel,
    outputCap: number | undefined,
    headers: HeaderRecord,
    send: () => Promise<T>,
  ): Promise<T> {
    this.attempts++;
    const span = this.settings.tracer.startSpan(
      `${this.operation} ${model.upstreamModel}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.operationName]: this.operation,
          [ATTR.providerName]: model.provider.kind,
          [ATTR.requestModel]: model.upstreamModel,
          [ATTR.attempt]: this.attempts,
          [ATTR.httpMethod]: 'POST',
          ...serverAttributes(model.provider),
          ...(outputCap !== undefined ? { [ATTR.requestMaxTokens]: outputCap } : {}),
        },
      },
      this.context,
    );
    delete headers.traceparent;
    delete headers.tracestate;
    this.settings.propagator.inject(trace.setSpan(this.context, span), headers, headerSetter);
    let answer: T;
    try {
      answer = await send();
    } catch (error) {
      failed(span, errorTypeOf(error));
      throw error;
    }
    span.setAttribute(ATTR.httpStatus, answer.statusCode);
    if (answer.statusCode >= 400) failed(span, String(answer.statusCode));
    else this.answering = span;
    return answer;
  }

  /** A plain answer's JSON: response id, model and finish reasons (and its text with capture_content). */
  answer(json: unknown): void {
    this.response = responseFacts(json);
    if (this.settings.captureContent) {
      const messages = outputMessages(json);
      if (messages !== undefined) this.span.setAttribute(ATTR.outputMessages, messages);
    }
  }

  /** The request ended: its record says how; every span still open ends here. */
  end(record: RequestRecord): void {
    const attributes = this.recordAttributes(record);
    const client = this.answering;
    if (client) {
      client.setAttributes(this.usageAttributes(record));
      if (record.status >= 500 || record.errorCode)
        markFailed(client, record.errorCode ?? String(record.status));
      client.end();
      this.answering = undefined;
    }
    const span = this.span;
    span.updateName(record.requestedModel ? `${this.operation} ${record.requestedModel}` : this.operation);
    span.setAttributes(attributes);
    span.setAttributes(this.usageAttributes(record));
    if (record.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorCode ?? '' });
    span.end();
  }

  private recordAttributes(record: RequestRecord): Attributes {
    const out: Attributes = {
      [ATTR.requestId]: record.requestId,
      [ATTR.httpStatus]: record.status,
      [ATTR.requestStream]: record.stream,
      [ATTR.settlement]: record.settlement,
    };
    if (record.requestedModel) out[ATTR.requestModel] = record.requestedModel;
    if (record.servedModel) out[ATTR.servedModel] = record.servedModel;
    if (record.downgraded && record.requestedModel) out[ATTR.downgradedFrom] = record.requestedModel;
    if (this.providerKind) out[ATTR.providerName] = this.providerKind;
    const errorType = record.errorCode ?? (record.status === 499 ? 'client_closed' : undefined);
    if (errorType) out[ATTR.errorType] = errorType;
    if (record.estimateNano > 0) out[ATTR.estimatedCostUsd] = record.estimateNano / 1e9;
    if (this.budgetIds.size > 0) out[ATTR.budgetIds] = [...this.budgetIds];
    const refused = !this.granted && record.errorCode && REFUSALS.has(record.errorCode);
    const refusal = this.refusal ?? (refused ? record.errorCode : undefined);
    if (refusal) {
      out[ATTR.decision] = 'refused';
      out[ATTR.refusalReason] = refusal;
    } else if (this.granted) {
      out[ATTR.decision] = this.granted.downgraded
        ? 'downgraded'
        : this.granted.clamped
          ? 'clamped'
          : 'served';
    }
    return out;
  }

  /** Usage, cost and response facts: the same on the server span and on the attempt that answered. */
  private usageAttributes(record: RequestRecord): Attributes {
    const out: Attributes = {};
    const response = this.response;
    if (response?.id) out[ATTR.responseId] = response.id;
    if (response?.model) out[ATTR.responseModel] = response.model;
    if (response?.finishReasons) out[ATTR.responseFinishReasons] = response.finishReasons;
    if (record.settlement === 'none' || record.settlement === 'released') return out;
    // The conventions count cache reads and writes as input (src/usage.ts bills them apart).
    out[ATTR.inputTokens] = record.inputTokens + record.cachedInputTokens + record.cacheWriteTokens;
    out[ATTR.outputTokens] = record.outputTokens;
    out[ATTR.cacheReadInputTokens] = record.cachedInputTokens;
    out[ATTR.cacheCreationInputTokens] = record.cacheWriteTokens;
    out[ATTR.reasoningOutputTokens] = record.reasoningTokens;
    out[ATTR.costUsd] = record.costNano / 1e9;
    return out;
  }
}

function markFailed(span: Span, errorType: string): void {
  span.setAttribute(ATTR.errorType, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}

function failed(span: Span, errorType: string): void {
  markFailed(span, errorType);
  span.end();
}

/** A low-cardinality name for a failed call: undici's error code, else the error's class. */
function errorTypeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.constructor.name : 'unknown';
}

const servers = new WeakMap<RuntimeProvider, Attributes>();

/** server.address / server.port of a provider, parsed once per (compiled) provider. */
function serverAttributes(provider: RuntimeProvider): Attributes {
  let attributes = servers.get(provider);
  if (!attributes) {
    const url = new URL(provider.baseUrl);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    attributes = { [ATTR.serverAddress]: url.hostname, [ATTR.serverPort]: port };
    servers.set(provider, attributes);
  }
  return attributes;
}
