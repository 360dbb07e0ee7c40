/**
 * From finished requests to what the history stores: a ledger entry per request (a copy of the
 * record's non-secret fields) and hourly rollup rows summed per combination of dimensions.
 */
import type { RequestRecord } from '../record.js';
import { hourOf, type LedgerEntry, type RollupRow, type UsageCounters } from '../store/history.js';

/** Requests with fewer output tokens than this count as "short" (savings suggestions). */
export const SHORT_OUTPUT_TOKENS = 300;

export function ledgerEntryOf(r: RequestRecord): LedgerEntry {
  return {
    timeMs: r.timeMs,
    requestId: r.requestId,
    endpoint: r.endpoint,
    keyId: r.keyId,
    user: r.user,
    team: r.team,
    requestedModel: r.requestedModel,
    servedModel: r.servedModel,
    provider: r.provider,
    stream: r.stream,
    status: r.status,
    errorCode: r.errorCode,
    inputTokens: r.inputTokens,
    cachedInputTokens: r.cachedInputTokens,
    cacheWriteTokens: r.cacheWriteTokens,
    outputTokens: r.outputTokens,
    reasoningTokens: r.reasoningTokens,
    costNano: r.costNano,
    estimateNano: r.estimateNano,
    latencyMs: Math.round(r.latencyMs),
    downgraded: r.downgraded,
    clamped: r.clamped,
    settlement: r.settlement,
    session: r.session ?? null,
  };
}

export function zeroCounters(): UsageCounters {
  return {
    requests: 0,
    errors: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costNano: 0,
  };
}

export function addCounters(into: UsageCounters, from: UsageCounters): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.inputTokens += from.inputTokens;
  into.cachedInputTokens += from.cachedInputTokens;
  into.cacheWriteTokens += from.cacheWriteTokens;
  into.outputTokens += from.outputTokens;
  into.reasoningTokens += from.reasoningTokens;
  into.costNano += from.costNano;
}

/** Sums entries into one row per (hour, key, user, team, model, provider, short). */
export function rollupsOf(entries: readonly LedgerEntry[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const e of entries) {
    const dims = {
      hourMs: hourOf(e.timeMs),
      key: e.keyId ?? '',
      user: e.user ?? '',
      team: e.team ?? '',
      model: e.servedModel ?? e.requestedModel ?? '',
      provider: e.provider ?? '',
      short: e.outputTokens < SHORT_OUTPUT_TOKENS,
    };
    const id = JSON.stringify(dims);
    let row = rows.get(id);
    if (!row) {
      row = { ...dims, ...zeroCounters() };
      rows.set(id, row);
    }
    addCounters(row, {
      requests: 1,
      errors: e.status >= 400 ? 1 : 0,
      inputTokens: e.inputTokens,
      cachedInputTokens: e.cachedInputTokens,
      cacheWriteTokens: e.cacheWriteTokens,
      outputTokens: e.outputTokens,
      reasoningTokens: e.reasoningTokens,
      costNano: e.costNano,
    });
  }
  return [...rows.values()];
}
