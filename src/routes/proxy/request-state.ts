/**
 * A proxied request's bookkeeping: its id and the record (ledger, log line, metrics) filled in as it
 * goes through the pipeline and emitted once when it ends.
 */
import type { RequestObserver, RequestRecord } from '../../record.js';
import type { RequestTrace } from '../../telemetry/request-trace.js';
import type { Usage } from '../../usage.js';

/** Per-request state that the record is built from. */
export class RequestState {
  readonly startedAt = performance.now();
  readonly record: RequestRecord;
  upstreamStartedAt = 0;
  /** The reservation was settled or released (a phase that bills before it throws sets it). */
  settled = false;
  /** The request's spans when tracing is on (src/telemetry/); ended from the record in finish(). */
  trace: RequestTrace | undefined;

  constructor(requestId: string, endpoint: string, nowMs: number) {
    this.record = {
      timeMs: nowMs,
      requestId,
      endpoint,
      keyId: null,
      user: null,
      team: null,
      anonymous: false,
      requestedModel: null,
      servedModel: null,
      provider: null,
      stream: false,
      status: 0,
      errorCode: null,
      inputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      costNano: 0,
      estimateNano: 0,
      latencyMs: 0,
      upstreamMs: 0,
      upstreamTtfbMs: null,
      downgraded: false,
      clamped: false,
      settlement: 'none',
      waitedMs: 0,
      metered: false,
      extensions: 0,
      cutAtBudget: false,
    };
  }

  setUsage(usage: Usage, costNano: number): void {
    this.record.inputTokens = usage.inputTokens;
    this.record.cachedInputTokens = usage.cachedInputTokens;
    this.record.cacheWriteTokens = usage.cacheWriteTokens;
    this.record.outputTokens = usage.outputTokens;
    this.record.reasoningTokens = usage.reasoningTokens;
    this.record.costNano = costNano;
    if (usage.providerCostNano !== undefined) this.record.providerCostNano = usage.providerCostNano;
  }

  finish(observe: RequestObserver): void {
    const end = performance.now();
    this.record.latencyMs = end - this.startedAt;
    if (this.upstreamStartedAt > 0) this.record.upstreamMs = end - this.upstreamStartedAt;
    this.trace?.end(this.record);
    observe(this.record);
  }
}
