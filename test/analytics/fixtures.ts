import { randomUUID } from 'node:crypto';
import type { RequestRecord } from '../../src/record.js';

export const HOUR = 3_600_000;
export const USD = 1_000_000_000;

/** A finished request as the pipeline reports it; only what a test sets differs from a plain 200. */
export function requestRecord(fields: Partial<RequestRecord> = {}): RequestRecord {
  return {
    timeMs: Date.UTC(2030, 2, 15, 9, 30),
    requestId: `req_${randomUUID().replaceAll('-', '')}`,
    endpoint: '/v1/chat/completions',
    keyId: 'alpha',
    user: 'alice',
    team: 'web',
    anonymous: false,
    requestedModel: 'gpt-4o',
    servedModel: 'gpt-4o',
    provider: 'openai',
    stream: false,
    status: 200,
    errorCode: null,
    inputTokens: 100,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 50,
    reasoningTokens: 0,
    costNano: 750_000,
    estimateNano: 900_000,
    latencyMs: 12.4,
    upstreamMs: 10,
    upstreamTtfbMs: 5,
    downgraded: false,
    clamped: false,
    settlement: 'usage',
    waitedMs: 0,
    metered: false,
    extensions: 0,
    cutAtBudget: false,
    ...fields,
  };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks; rows end in CRLF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}
