/**
 * The shared budget store: Redis (or Redis Cluster) through ioredis, one Lua script per operation,
 * one round trip each (auto-pipelined). Every key carries the hash tag {<prefix>}, so all of a
 * deployment's keys live in one cluster slot and each script runs on one node. That is also the
 * ceiling: one Redis core runs every script of a deployment (see scripts/bench-store.ts for the
 * figure); past it, partition by running one prefix (one gateway deployment) per tenant group.
 *
 * Key layout (p = prefix):
 *   {p}:line:<instance>:<period>   hash spent, reserved, rollover, topup   (TTL from the line spec)
 *   {p}:res:<reservationId>        hash amount, cap, exp, lines (JSON [[lineKey, baseLimit], ...])
 *   {p}:leases                     sorted set reservationId -> lease expiry ms
 *   {p}:inst:<budgetId>:<period>   set of template instances seen (TTL from the line spec)
 *   {p}:claim:<instance>:<period>:<name>   once-per-period claims (SET NX, TTL)
 */
import { type Cluster, type Redis, ReplyError } from 'ioredis';
import type { Nano } from '../money.js';
import { BALANCES_LUA } from './lua/balances.js';
import { CLAIM_LUA } from './lua/claim.js';
import { REAP_LUA } from './lua/reap.js';
import { RESERVE_LUA } from './lua/reserve.js';
import { RESET_LUA } from './lua/reset.js';
import { SETTLE_LUA } from './lua/settle.js';
import { TOPUP_LUA } from './lua/topup.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import {
  type BudgetStore,
  type LineBalance,
  type LineSpec,
  type ReserveRequest,
  type ReserveResult,
  type SettleResult,
  StoreUnavailableError,
} from './types.js';

export interface RedisStoreOptions extends RedisTarget {
  /** Key namespace, used as the hash tag: {prefix}. */
  prefix: string;
  /** Bound on every operation, waiting for a (re)connection included. */
  timeoutMs: number;
}

type Reply = number[];

/** The scripts, as ioredis custom commands (EVALSHA, falling back to EVAL on NOSCRIPT). */
interface ScriptCommands {
  gwReserve(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  gwSettle(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  gwReap(numKeys: number, ...args: Array<string | number>): Promise<number>;
  gwBalances(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  gwTopup(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  gwReset(numKeys: number, ...args: Array<string | number>): Promise<Reply>;
  gwClaim(numKeys: number, ...args: Array<string | number>): Promise<number>;
}

type Client = (Redis | Cluster) & ScriptCommands;

/** Reservations the reap script settles per call; reapExpired loops while batches come back full. */
const REAP_BATCH = 500;

export class RedisStore implements BudgetStore {
  readonly kind = 'redis' as const;
  private readonly client: Client;
  private readonly timeoutMs: number;
  private readonly tag: string;
  private readonly none: string;
  private readonly leasesKey: string;
  private readonly resPrefix: string;
  private closed = false;
  private readyWait: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    this.timeoutMs = options.timeoutMs;
    this.tag = `{${options.prefix}}`;
    this.none = `${this.tag}:none`;
    this.leasesKey = `${this.tag}:leases`;
    this.resPrefix = `${this.tag}:res:`;
    const client = connectRedis(options, options.timeoutMs);
    const scripts = {
      gwReserve: RESERVE_LUA,
      gwSettle: SETTLE_LUA,
      gwReap: REAP_LUA,
      gwBalances: BALANCES_LUA,
      gwTopup: TOPUP_LUA,
      gwReset: RESET_LUA,
      gwClaim: CLAIM_LUA,
    };
    for (const [name, lua] of Object.entries(scripts)) {
      client.defineCommand(name, { lua, readOnly: name === 'gwBalances' });
    }
    this.client = client as Client;
  }

  lineKey(instance: string, period: string): string {
    return `${this.tag}:line:${instance}:${period}`;
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const keys: string[] = [this.resPrefix + req.reservationId, this.leasesKey];
    const argv: Array<string | number> = [
      req.reservationId,
      req.nowMs,
      req.leaseExpiresAtMs,
      req.fixedPico,
      req.outputPico,
      req.requestedCap,
      req.minCap,
      this.resPrefix,
    ];
    for (const spec of req.lines) {
      const template = spec.instance !== spec.budgetId;
      keys.push(
        this.lineKey(spec.instance, spec.period),
        this.prevKey(spec),
        template ? `${this.tag}:inst:${spec.budgetId}:${spec.period}` : this.none,
      );
      argv.push(
        spec.limitNano,
        rolloverCap(spec),
        spec.downgradeAtNano,
        spec.ttlSeconds,
        template ? spec.instance : '',
      );
    }
    const r = await this.call(() => this.client.gwReserve(keys.length, ...keys, ...argv.map(String)));
    const [status = 0, second = 0, amount = 0, expiredSettled = 0] = r;
    const balances = triples(r, 4);
    if (status === 1)
      return { status: 'reserved', grantedCap: second, amountNano: amount, balances, expiredSettled };
    return { status: status === 3 ? 'downgrade' : 'rejected', lineIndex: second, balances, expiredSettled };
  }

  settle(reservationId: string, actualNano: Nano, _nowMs: number): Promise<SettleResult> {
    return this.settleAt(reservationId, actualNano);
  }

  release(reservationId: string, _nowMs: number): Promise<SettleResult> {
    return this.settleAt(reservationId, 0);
  }

  async balances(lines: LineSpec[]): Promise<LineBalance[]> {
    if (lines.length === 0) return [];
    const keys: string[] = [];
    const argv: string[] = [];
    for (const spec of lines) {
      keys.push(this.lineKey(spec.instance, spec.period), this.prevKey(spec));
      argv.push(String(spec.limitNano), String(rolloverCap(spec)));
    }
    return triples(await this.call(() => this.client.gwBalances(keys.length, ...keys, ...argv)), 0);
  }

  async reapExpired(nowMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.call(() =>
        this.client.gwReap(1, this.leasesKey, String(nowMs), String(REAP_BATCH), this.resPrefix),
      );
      total += n;
      if (n < REAP_BATCH) return total;
    }
  }

  async topUp(line: LineSpec, amountNano: Nano): Promise<LineBalance> {
    const r = await this.call(() =>
      this.client.gwTopup(2, ...this.lineArgs(line), String(line.ttlSeconds), String(amountNano)),
    );
    return triples(r, 0)[0]!;
  }

  async reset(line: LineSpec): Promise<LineBalance> {
    const r = await this.call(() => this.client.gwReset(2, ...this.lineArgs(line), String(line.ttlSeconds)));
    return triples(r, 0)[0]!;
  }

  async claimOnce(instance: string, period: string, name: string, ttlSeconds: number): Promise<boolean> {
    const key = `${this.tag}:claim:${instance}:${period}:${name}`;
    return (
      (await this.call(() => this.client.gwClaim(1, key, String(Math.max(0, Math.ceil(ttlSeconds)))))) === 1
    );
  }

  instances(budgetId: string, period: string): Promise<string[]> {
    return this.call(async () =>
      (await this.client.smembers(`${this.tag}:inst:${budgetId}:${period}`)).sort(),
    );
  }

  async ping(): Promise<boolean> {
    try {
      await this.call(() => this.client.ping());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await withDeadline(this.client.quit(), this.timeoutMs);
    } catch {
      this.client.disconnect();
    }
  }

  private async settleAt(reservationId: string, actualNano: Nano): Promise<SettleResult> {
    const r = await this.call(() =>
      this.client.gwSettle(
        2,
        this.resPrefix + reservationId,
        this.leasesKey,
        reservationId,
        String(actualNano),
      ),
    );
    if (r[0] !== 1) return { status: 'unknown' };
    const balances: LineBalance[] = [];
    const spentBeforeNano: Nano[] = [];
    for (let i = 1; i + 3 < r.length; i += 4) {
      balances.push({ limitNano: r[i]!, spentNano: r[i + 1]!, reservedNano: r[i + 2]! });
      spentBeforeNano.push(r[i + 3]!);
    }
    return { status: 'settled', balances, spentBeforeNano };
  }

  /** KEYS and the first ARGV of the single-line scripts (topup, reset). */
  private lineArgs(spec: LineSpec): string[] {
    return [
      this.lineKey(spec.instance, spec.period),
      this.prevKey(spec),
      String(spec.limitNano),
      String(rolloverCap(spec)),
    ];
  }

  private prevKey(spec: LineSpec): string {
    return spec.previousPeriod === null ? this.none : this.lineKey(spec.instance, spec.previousPeriod);
  }

  /**
   * Runs one command within timeoutMs, waiting for the (re)connection inside the same bound, and
   * maps every connection-level failure to StoreUnavailableError. Redis errors from the scripts
   * themselves (a bug) keep their own type.
   */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('redis store is closed');
    const deadline = Date.now() + this.timeoutMs;
    // Once sent, a command that times out may still run on the server (Redis was busy, the answer
    // slow): callers are told, so a reservation that lands late is released rather than orphaned.
    let sent = false;
    try {
      if (this.client.status !== 'ready') await withDeadline(this.whenReady(), this.timeoutMs);
      sent = true;
      return await withDeadline(command(), Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (err instanceof ReplyError && /^(ERR|WRONGTYPE)/.test((err as Error).message)) throw err;
      const message =
        err instanceof StoreUnavailableError
          ? err.message
          : `redis store unavailable: ${(err as Error).message}`;
      throw new StoreUnavailableError(message, { cause: err, maybeApplied: sent });
    }
  }

  /** One shared wait for 'ready' (not one listener per caller during an outage). */
  private whenReady(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.client.status === 'end') return Promise.reject(new Error('connection closed'));
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      const onReady = () => {
        this.client.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        this.client.off('ready', onReady);
        reject(new Error('connection closed'));
      };
      this.client.once('ready', onReady);
      this.client.once('end', onEnd);
    }).finally(() => {
      this.readyWait = undefined;
    });
    return this.readyWait;
  }
}

/** The rollover cap the scripts see: 0 when there is no previous period to roll from. */
function rolloverCap(spec: LineSpec): number {
  return spec.previousPeriod === null ? 0 : Math.max(0, spec.rolloverMaxNano);
}

function triples(r: number[], from: number): LineBalance[] {
  const out: LineBalance[] = [];
  for (let i = from; i + 2 < r.length; i += 3) {
    out.push({ limitNano: r[i]!, spentNano: r[i + 1]!, reservedNano: r[i + 2]! });
  }
  return out;
}

/** Rejects with StoreUnavailableError after ms, leaving `promise` to settle (and be ignored) later. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`redis store timed out after ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
