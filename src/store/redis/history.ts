/**
 * Usage history in Redis, under the deployment's hash tag like the counters (p = prefix):
 *   {p}:hist:roll:<hourMs>      hash JSON dims -> "requests,errors,input,cached,cacheWrite,output,reasoning,costNano"
 *   {p}:hist:roll-hours         sorted set of hours that have rollups
 *   {p}:hist:ledger:<hourMs>    list of ledger entries (JSON arrays) of requests that started that hour
 *   {p}:hist:ledger-hours       sorted set of hours that have ledger entries
 *   {p}:hist:batch:<id>         marker that makes a retried batch a no-op (expires after an hour)
 * Every hour key expires at its hour + retention (a safety net); prune() drops them on schedule.
 * Memory: one hash field per (hour, key, user, team, model, provider, short) combination seen, and
 * about 200 bytes per ledger entry (size ledger_retention_days to the request volume).
 */
import { randomUUID } from 'node:crypto';
import {
  type HistoryRetention,
  type HistoryStore,
  HOUR_MS,
  hourOf,
  type LedgerEntry,
  type PruneResult,
  type RollupRow,
} from '../history.js';
import { RedisClient, type RedisTarget } from './client.js';

export interface RedisHistoryOptions extends RedisTarget {
  prefix: string;
  /** Bound on one command; history work is in the background, so it may be generous. */
  timeoutMs: number;
  /** Ledger entries per LRANGE page. */
  pageSize?: number;
}

/** Entry layout version, first element of every stored entry. */
const ENTRY_VERSION = 1;
const DELETE_BATCH = 500;

export class RedisHistoryStore implements HistoryStore {
  readonly kind = 'redis' as const;
  private readonly redis: RedisClient;
  private readonly tag: string;
  private readonly pageSize: number;

  constructor(options: RedisHistoryOptions) {
    this.tag = `{${options.prefix}}`;
    this.pageSize = options.pageSize ?? 1000;
    // A batch whose reply was lost is retried by the recorder; the batch marker makes that safe.
    this.redis = new RedisClient({ ...options, label: 'redis history', scripts: ['historyWrite'] });
  }

  private key(kind: 'roll' | 'ledger', hourMs: number): string {
    return `${this.tag}:hist:${kind}:${hourMs}`;
  }

  private index(kind: 'roll' | 'ledger'): string {
    return `${this.tag}:hist:${kind}-hours`;
  }

  async write(rollups: readonly RollupRow[], ledger: readonly LedgerEntry[], retention: HistoryRetention) {
    if (rollups.length === 0 && ledger.length === 0) return;
    const rollupHours = groupBy(rollups, (row) => row.hourMs);
    const ledgerHours = groupBy(ledger, (entry) => hourOf(entry.timeMs));
    const keys = [`${this.tag}:hist:batch:${randomUUID()}`, this.index('roll'), this.index('ledger')];
    const argv: string[] = [String(rollupHours.size), String(ledgerHours.size)];
    for (const [hour, rows] of rollupHours) {
      keys.push(this.key('roll', hour));
      argv.push(String(hour), String(hour + HOUR_MS + retention.rollupMs), String(rows.length));
      for (const row of rows) argv.push(fieldOf(row), countersOf(row));
    }
    for (const [hour, entries] of ledgerHours) {
      keys.push(this.key('ledger', hour));
      argv.push(String(hour), String(hour + HOUR_MS + retention.ledgerMs), String(entries.length));
      for (const entry of entries) argv.push(encodeEntry(entry));
    }
    await this.redis.script('historyWrite', keys, argv);
  }

  async *rollups(fromMs: number, toMs: number): AsyncIterable<RollupRow> {
    for (const hour of await this.hours('roll', fromMs, toMs)) {
      const fields = await this.redis.call((c) => c.hgetall(this.key('roll', hour)));
      const rows: RollupRow[] = [];
      for (const [field, value] of Object.entries(fields)) {
        const row = decodeRollup(hour, field, value);
        if (row) rows.push(row);
      }
      yield* rows;
    }
  }

  async *ledger(fromMs: number, toMs: number): AsyncIterable<LedgerEntry> {
    // An hour's list holds requests that started in it, so the first hour may start before fromMs.
    for (const hour of await this.hours('ledger', hourOf(fromMs), toMs)) {
      const key = this.key('ledger', hour);
      for (let start = 0; ; start += this.pageSize) {
        const page = await this.redis.call((c) => c.lrange(key, start, start + this.pageSize - 1));
        for (const raw of page) {
          const entry = decodeEntry(raw);
          if (entry && entry.timeMs >= fromMs && entry.timeMs < toMs) yield entry;
        }
        if (page.length < this.pageSize) break;
      }
    }
  }

  async firstHour(): Promise<number | null> {
    const first = await this.redis.call((c) => c.zrange(this.index('roll'), '0', '0'));
    return first[0] === undefined ? null : Number(first[0]);
  }

  async prune(rollupsBeforeMs: number, ledgerBeforeMs: number): Promise<PruneResult> {
    return {
      // A rollup hour goes once its start is past the cutoff (as in SQLite); a ledger hour once all
      // of it is, so no entry younger than the retention is dropped.
      rollups: await this.dropHours('roll', rollupsBeforeMs),
      ledger: await this.dropHours('ledger', ledgerBeforeMs - HOUR_MS + 1),
    };
  }

  close(): Promise<void> {
    return this.redis.close();
  }

  /** Hours with data in [fromMs, toMs), ascending. */
  private async hours(kind: 'roll' | 'ledger', fromMs: number, toMs: number): Promise<number[]> {
    const members = await this.redis.call((c) => c.zrangebyscore(this.index(kind), fromMs, `(${toMs}`));
    return members.map(Number).sort((a, b) => a - b);
  }

  /** Deletes the hour keys of hours starting before `beforeMs`; returns how many hours went. */
  private async dropHours(kind: 'roll' | 'ledger', beforeMs: number): Promise<number> {
    const old = await this.redis.call((c) => c.zrangebyscore(this.index(kind), '-inf', `(${beforeMs}`));
    for (let i = 0; i < old.length; i += DELETE_BATCH) {
      const batch = old.slice(i, i + DELETE_BATCH);
      await this.redis.call((c) => c.del(...batch.map((hour) => this.key(kind, Number(hour)))));
      await this.redis.call((c) => c.zrem(this.index(kind), ...batch));
    }
    return old.length;
  }
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function fieldOf(row: RollupRow): string {
  return JSON.stringify([row.key, row.user, row.team, row.model, row.provider, row.short ? 1 : 0]);
}

function countersOf(row: RollupRow): string {
  return [
    row.requests,
    row.errors,
    row.inputTokens,
    row.cachedInputTokens,
    row.cacheWriteTokens,
    row.outputTokens,
    row.reasoningTokens,
    row.costNano,
  ].join(',');
}

function decodeRollup(hourMs: number, field: string, value: string): RollupRow | undefined {
  try {
    const [key, user, team, model, provider, short] = JSON.parse(field) as [
      string,
      string,
      string,
      string,
      string,
      number,
    ];
    const c = value.split(',').map(Number);
    return {
      hourMs,
      key,
      user,
      team,
      model,
      provider,
      short: short === 1,
      requests: c[0] ?? 0,
      errors: c[1] ?? 0,
      inputTokens: c[2] ?? 0,
      cachedInputTokens: c[3] ?? 0,
      cacheWriteTokens: c[4] ?? 0,
      outputTokens: c[5] ?? 0,
      reasoningTokens: c[6] ?? 0,
      costNano: c[7] ?? 0,
    };
  } catch {
    return undefined;
  }
}

function encodeEntry(e: LedgerEntry): string {
  return JSON.stringify([
    ENTRY_VERSION,
    e.timeMs,
    e.requestId,
    e.endpoint,
    e.keyId,
    e.user,
    e.team,
    e.requestedModel,
    e.servedModel,
    e.provider,
    e.stream ? 1 : 0,
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
    e.downgraded ? 1 : 0,
    e.clamped ? 1 : 0,
    e.settlement,
    e.session,
  ]);
}

function decodeEntry(raw: string): LedgerEntry | undefined {
  let a: unknown[];
  try {
    a = JSON.parse(raw) as unknown[];
  } catch {
    return undefined;
  }
  if (!Array.isArray(a) || a[0] !== ENTRY_VERSION) return undefined;
  const num = (i: number) => Number(a[i] ?? 0);
  const str = (i: number) => (a[i] === null || a[i] === undefined ? null : String(a[i]));
  return {
    timeMs: num(1),
    requestId: String(a[2]),
    endpoint: String(a[3]),
    keyId: str(4),
    user: str(5),
    team: str(6),
    requestedModel: str(7),
    servedModel: str(8),
    provider: str(9),
    stream: a[10] === 1,
    status: num(11),
    errorCode: str(12),
    inputTokens: num(13),
    cachedInputTokens: num(14),
    cacheWriteTokens: num(15),
    outputTokens: num(16),
    reasoningTokens: num(17),
    costNano: num(18),
    estimateNano: num(19),
    latencyMs: num(20),
    downgraded: a[21] === 1,
    clamped: a[22] === 1,
    settlement: String(a[23]) as LedgerEntry['settlement'],
    // Appended after version 1 was first written: an older entry has no element 24 (null).
    session: str(24),
  };
}
