/**
 * Between LedgerEntry / RollupRow and the Postgres tables: the batch statements (one multi-row
 * insert per table, columns as arrays through unnest) and the row mappers (bigint columns arrive
 * as strings; every count and nano-USD amount fits a JS number below 2^53).
 */
import type { LedgerEntry, RollupRow } from '../history.js';

export const ROLLUP_KEY = 'hour_ms, key_id, user_name, team, model, provider, short';
const COUNTERS = [
  'requests',
  'errors',
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_nano',
] as const;
const LEDGER_COLUMNS = [
  ['time_ms', 'int8'],
  ['request_id', 'text'],
  ['endpoint', 'text'],
  ['key_id', 'text'],
  ['user_name', 'text'],
  ['team', 'text'],
  ['requested_model', 'text'],
  ['served_model', 'text'],
  ['provider', 'text'],
  ['stream', 'bool'],
  ['status', 'int2'],
  ['error_code', 'text'],
  ['input_tokens', 'int8'],
  ['cached_input_tokens', 'int8'],
  ['cache_write_tokens', 'int8'],
  ['output_tokens', 'int8'],
  ['reasoning_tokens', 'int8'],
  ['cost_nano', 'int8'],
  ['estimate_nano', 'int8'],
  ['latency_ms', 'int4'],
  ['downgraded', 'bool'],
  ['clamped', 'bool'],
  ['settlement', 'text'],
  ['session', 'text'],
] as const;

// One statement per batch and table: arrays of columns through unnest, so a batch of any size is
// one round trip with a fixed number of parameters.
export const INSERT_LEDGER = `INSERT INTO request_ledger (${LEDGER_COLUMNS.map(([c]) => c).join(', ')})
  SELECT * FROM unnest(${LEDGER_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT (time_ms, request_id) DO NOTHING
  RETURNING request_id`;
export const UPSERT_ROLLUPS = `INSERT INTO usage_hourly (${ROLLUP_KEY}, ${COUNTERS.join(', ')})
  SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[],
    ${COUNTERS.map((_, i) => `$${i + 8}::int8[]`).join(', ')})
  ON CONFLICT (${ROLLUP_KEY}) DO UPDATE SET
  ${COUNTERS.map((c) => `${c} = usage_hourly.${c} + excluded.${c}`).join(',\n  ')}`;

export type DbRow = Record<string, string | number | boolean | null | undefined>;
export function ledgerArrays(ledger: readonly LedgerEntry[]): unknown[][] {
  const columns: unknown[][] = LEDGER_COLUMNS.map(() => []);
  for (const e of ledger) {
    const values = [
      e.timeMs,
      e.requestId,
      e.endpoint,
      e.keyId,
      e.user,
      e.team,
      e.requestedModel,
      e.servedModel,
      e.provider,
      e.stream,
      e.status,
      e.errorCode,
      e.inputTokens,
      e.cachedInputTokens,
      e.cacheWriteTokens,
      e.outputTokens,
      e.reasoningTokens,
      e.costNano,
      e.estimateNano,
      e.latencyMs,
      e.downgraded,
      e.clamped,
      e.settlement,
      e.session,
    ];
    for (const [i, v] of values.entries()) columns[i]!.push(v);
  }
  return columns;
}

/** Sorted by primary key: concurrent upserts from several gateways lock rows in one order (no deadlock). */
export function rollupArrays(rows: readonly RollupRow[]): unknown[][] {
  const key = (r: RollupRow) =>
    [r.hourMs, r.key, r.user, r.team, r.model, r.provider, r.short ? 1 : 0] as const;
  const sorted = [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      if (ka[i]! < kb[i]!) return -1;
      if (ka[i]! > kb[i]!) return 1;
    }
    return 0;
  });
  const columns: unknown[][] = Array.from({ length: 7 + COUNTERS.length }, () => []);
  for (const r of sorted) {
    const values = [
      r.hourMs,
      r.key,
      r.user,
      r.team,
      r.model,
      r.provider,
      r.short,
      r.requests,
      r.errors,
      r.inputTokens,
      r.cachedInputTokens,
      r.cacheWriteTokens,
      r.outputTokens,
      r.reasoningTokens,
      r.costNano,
    ];
    for (const [i, v] of values.entries()) columns[i]!.push(v);
  }
  return columns;
}

const num = (v: DbRow[string]) => Number(v ?? 0);
const str = (v: DbRow[string]) => (v === null || v === undefined ? null : String(v));

export function rollupOf(row: DbRow): RollupRow {
  return {
    hourMs: num(row.hour_ms),
    key: String(row.key_id),
    user: String(row.user_name),
    team: String(row.team),
    model: String(row.model),
    provider: String(row.provider),
    short: row.short === true,
    requests: num(row.requests),
    errors: num(row.errors),
    inputTokens: num(row.input_tokens),
    cachedInputTokens: num(row.cached_input_tokens),
    cacheWriteTokens: num(row.cache_write_tokens),
    outputTokens: num(row.output_tokens),
    reasoningTokens: num(row.reasoning_tokens),
    costNano: num(row.cost_nano),
  };
}

export function ledgerOf(row: DbRow): LedgerEntry {
  return {
    timeMs: num(row.time_ms),
    requestId: String(row.request_id),
    endpoint: String(row.endpoint),
    keyId: str(row.key_id),
    user: str(row.user_name),
    team: str(row.team),
    requestedModel: str(row.requested_model),
    servedModel: str(row.served_model),
    provider: str(row.provider),
    stream: row.stream === true,
    status: num(row.status),
    errorCode: str(row.error_code),
    inputTokens: num(row.input_tokens),
    cachedInputTokens: num(row.cached_input_tokens),
    cacheWriteTokens: num(row.cache_write_tokens),
    outputTokens: num(row.output_tokens),
    reasoningTokens: num(row.reasoning_tokens),
    costNano: num(row.cost_nano),
    estimateNano: num(row.estimate_nano),
    latencyMs: num(row.latency_ms),
    downgraded: row.downgraded === true,
    clamped: row.clamped === true,
    settlement: String(row.settlement) as LedgerEntry['settlement'],
    session: str(row.session),
  };
}
