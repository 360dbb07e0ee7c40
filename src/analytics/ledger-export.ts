/**
 * The request ledger as an export: JSON lines or CSV (RFC 4180: a header row, fields with commas,
 * quotes or line breaks quoted, quotes doubled), streamed entry by entry.
 *
 * Money appears twice: cost_nano, an exact integer (sum these to reconcile), and cost_usd. In CSV
 * cost_usd is the exact nine-decimal string; in JSON a number.
 *
 * Text that a spreadsheet would run as a formula is prefixed with a single quote in CSV: user names
 * come from request bodies, so they are untrusted. Spreadsheets skip leading blanks and control
 * characters and read full-width signs as their ASCII forms, so ` =1+1`, `\n=1+1` and `＝1+1` count
 * as formulas too (see formulaLike).
 */
import { formatUsd, nanoToUsd } from '../money.js';
import type { LedgerEntry } from '../store/history.js';

export type LedgerFormat = 'jsonl' | 'csv';

export const LEDGER_COLUMNS = [
  'time',
  'time_ms',
  'request_id',
  'endpoint',
  'key_id',
  'user',
  'team',
  'requested_model',
  'served_model',
  'provider',
  'stream',
  'status',
  'error_code',
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_usd',
  'cost_nano',
  'estimated_cost_usd',
  'latency_ms',
  'downgraded',
  'clamped',
  'settlement',
  // Added after the first release: last, so a CSV read by position keeps its columns.
  'session',
] as const;

type Column = (typeof LEDGER_COLUMNS)[number];
type Value = string | number | boolean | null;

function valuesOf(e: LedgerEntry, exactMoney: boolean): Record<Column, Value> {
  return {
    time: new Date(e.timeMs).toISOString(),
    time_ms: e.timeMs,
    request_id: e.requestId,
    endpoint: e.endpoint,
    key_id: e.keyId,
    user: e.user,
    team: e.team,
    requested_model: e.requestedModel,
    served_model: e.servedModel,
    provider: e.provider,
    stream: e.stream,
    status: e.status,
    error_code: e.errorCode,
    input_tokens: e.inputTokens,
    cached_input_tokens: e.cachedInputTokens,
    cache_write_tokens: e.cacheWriteTokens,
    output_tokens: e.outputTokens,
    reasoning_tokens: e.reasoningTokens,
    cost_usd: exactMoney ? formatUsd(e.costNano) : nanoToUsd(e.costNano),
    cost_nano: e.costNano,
    estimated_cost_usd: exactMoney ? formatUsd(e.estimateNano) : nanoToUsd(e.estimateNano),
    latency_ms: e.latencyMs,
    downgraded: e.downgraded,
    clamped: e.clamped,
    settlement: e.settlement,
    session: e.session,
  };
}

export function jsonLine(entry: LedgerEntry): string {
  return `${JSON.stringify(valuesOf(entry, false))}\n`;
}

export function csvHeader(): string {
  return `${LEDGER_COLUMNS.join(',')}\r\n`;
}

/** Free-text columns (the rest are numbers, booleans, ids the gateway generated, or ISO times). */
const TEXT_COLUMNS: ReadonlySet<Column> = new Set([
  'key_id',
  'user',
  'team',
  'requested_model',
  'served_model',
  'session',
]);

export function csvLine(entry: LedgerEntry): string {
  const values = valuesOf(entry, true);
  return `${LEDGER_COLUMNS.map((column) => csvField(values[column], TEXT_COLUMNS.has(column))).join(',')}\r\n`;
}

export function csvField(value: Value, text = false): string {
  if (value === null) return '';
  let s = String(value);
  if (text && formulaLike(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Leading whitespace, control and format characters (a spreadsheet skips them before a formula). */
const LEADING_IGNORED = /^[\s\p{Cc}\p{Cf}\p{Z}]+/u;

/**
 * Whether a spreadsheet could take the cell for a formula: a tab or CR first (Excel's own leaders),
 * or, after whatever it skips, one of = + - @ in any width (NFKC folds ＝ ＋ － ＠ and friends).
 */
export function formulaLike(s: string): boolean {
  if (/^[\t\r]/.test(s)) return true;
  const rest = s.replace(LEADING_IGNORED, '');
  const first = rest.slice(0, 2).normalize('NFKC').charAt(0);
  return first === '=' || first === '+' || first === '-' || first === '@';
}

/** A streamed export body; `limit` bounds the number of entries. */
export function ledgerStream(
  entries: AsyncIterable<LedgerEntry>,
  format: LedgerFormat,
  limit: number,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = entries[Symbol.asyncIterator]();
  let sent = 0;
  let headerSent = format !== 'csv';
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Enough lines per chunk to keep the per-chunk overhead small.
        let chunk = headerSent ? '' : csvHeader();
        headerSent = true;
        while (chunk.length < 64 * 1024) {
          if (sent >= limit) break;
          const next = await iterator.next();
          if (next.done) break;
          chunk += format === 'csv' ? csvLine(next.value) : jsonLine(next.value);
          sent++;
        }
        if (chunk.length > 0) controller.enqueue(encoder.encode(chunk));
        if (chunk.length < 64 * 1024 || sent >= limit) {
          controller.close();
          await iterator.return?.();
        }
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
