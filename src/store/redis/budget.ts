/**
 * The shared budget store: Redis (or Redis Cluster) through ioredis, one Lua script per operation,
 * one round trip each (auto-pipelined). Every key carries the hash tag {<prefix>}, so all of a
 * deployment's keys live in one cluster slot and each script runs on one node. That is also the
 * ceiling: one Redis core runs every script of a deployment (see scripts/bench-store.ts for the
 * figure); past it, partition by running one prefix (one gateway deployment) per tenant group.
 *
 * Key layout (p = prefix):
 *   {p}:line:<instance>:<period>   hash spent, reserved, rollover, topup   (TTL from the line spec)
 *   {p}:res:<reservationId>        hash amount, cap, fixed, output, exp,
 *                                  lines (JSON [[lineKey, baseLimit, waitKey, "instance|period"], ...])
 *   {p}:leases                     sorted set reservationId -> lease expiry ms
 *   {p}:wait:<instance>:<period>   sorted set reservationId -> queue position (first enqueue ms)
 *   {p}:waitn:<instance>:<period>  hash reservationId -> "need:expiry" of each waiter (both with
 *                                  the line's TTL)
 *   {p}:freed                      pub/sub channel: JSON array of the "instance|period" names of
 *                                  lines whose money came back, published only when someone waits
 *   {p}:inst:<budgetId>:<period>   set of template instances seen (TTL from the line spec)
 *   {p}:claim:<instance>:<period>:<name>   once-per-period claim: its expiry ms by the gateway's
 *                                          clock (0 = never), with the same TTL
 *   {p}:lim:<instance>             hash f, r:<second>, t:<second>: a rate/concurrency limit (lua/limits.lua)
 */
import type { LimitSpec, LimitUse } from '../../limits/types.js';
import type { Nano } from '../../money.js';
import {
  type BudgetStore,
  type ExtendRequest,
  type ExtendResult,
  type LineBalance,
  type LineSpec,
  type ReserveRequest,
  type ReserveResult,
  type SettleResult,
  type StoreEvent,
  StoreResetError,
  StoreUnavailableError,
} from '../types.js';
import { type Connection, connectRedis, RedisClient, type RedisTarget } from './client.js';
import { RedisEpoch } from './epoch.js';
import { LostSettles } from './lost-settles.js';
import { ClockSkew, persistenceWarnings } from './persistence.js';
import {
  decodeBalance,
  decodeBalances,
  decodeCount,
  decodeEpoch,
  decodeExtend,
  decodeFreed,
  decodeIds,
  decodeLimitUses,
  decodeReserve,
  decodeSettle,
  driftedLine,
} from './replies.js';

export interface RedisStoreOptions extends RedisTarget {
  /** Key namespace, used as the hash tag: {prefix}. */
  prefix: string;
  /** Bound on every operation, waiting for a (re)connection included. */
  timeoutMs: number;
  /** The deployment epoch, shared with the meta store (createStores); one of its own when absent. */
  epoch?: RedisEpoch;
}

/** Reservations the reap script settles per call; reapExpired loops while batches come back full. */
const REAP_BATCH = 500;

export class RedisStore implements BudgetStore {
  readonly kind = 'redis' as const;
  private readonly redis: RedisClient;
  private readonly tag: string;
  private readonly none: string;
  private readonly leasesKey: string;
  private readonly resPrefix: string;
  private readonly freedChannel: string;
  private readonly listeners = new Set<(lineKeys: string[]) => void>();
  /** Created on the first onFreed: a gateway that never waits holds no extra connection. */
  private subscriber: Connection | undefined;
  private closed = false;
  private readonly epoch: RedisEpoch;
  private readonly skew: ClockSkew;
  private readonly settles: LostSettles;

  constructor(private readonly options: RedisStoreOptions) {
    this.tag = `{${options.prefix}}`;
    this.epoch = options.epoch ?? new RedisEpoch(this.tag);
    this.skew = new ClockSkew(
      () => this.redis.call((c) => c.time()),
      (skewMs, followed) => this.epoch.emit({ type: 'clock_skew', skewMs, followed }),
    );
    this.settles = new LostSettles(this.epoch);
    this.none = `${this.tag}:none`;
    this.leasesKey = `${this.tag}:leases`;
    this.resPrefix = `${this.tag}:res:`;
    this.freedChannel = `${this.tag}:freed`;
    this.redis = new RedisClient({
      ...options,
      label: 'redis store',
      scripts: [
        'reserve',
        'settle',
        'extend',
        'abandon',
        'reap',
        'renew',
        'balances',
        'topup',
        'reset',
        'claim',
        'limitUses',
        'epoch',
      ],
      epoch: this.epoch,
    });
  }

  async prepare(): Promise<string[]> {
    const warnings: string[] = [];
    try {
      // Any epoch-checked script starts the epoch first; a read-only one changes nothing else.
      // One key, so a cluster routes it to the deployment's slot (where the epoch lives).
      await this.redis.script('limitUses', [this.none], [0]);
    } catch (error) {
      // Reset or down: the gateway starts anyway, failing closed (reset) or per on_unavailable.
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (!(error instanceof StoreResetError))
        warnings.push(`redis store not reachable at start-up: ${error.message}`);
      return warnings;
    }
    await this.skew.measure().catch(() => {});
    this.skew.start();
    return [...warnings, ...(await persistenceWarnings(this.redis))];
  }

  resetState() {
    return this.epoch.state();
  }

  clockOffsetMs(): number {
    return this.skew.offsetMs();
  }

  async recover(): Promise<{ status: 'recovered' | 'not_reset'; epoch?: string }> {
    // Ask the store, not only this instance: another instance may have seen the reset first.
    const now = decodeEpoch(
      await this.redis.script('epoch', [this.epoch.key, this.epoch.markerKey], ['read', '']),
    );
    if (!this.epoch.state() && now.marker === '' && now.epoch !== '' && now.epoch === this.epoch.current()) {
      return { status: 'not_reset', epoch: now.epoch };
    }
    const value = this.epoch.nextValue(true);
    const reply = await this.redis.script(
      'epoch',
      [this.epoch.key, this.epoch.markerKey],
      ['recover', value],
    );
    this.epoch.recovered(decodeEpoch(reply));
    return { status: 'recovered', epoch: value };
  }

  onStoreEvent(listener: (event: StoreEvent) => void): () => void {
    return this.epoch.on(listener);
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
      req.waitUntilMs ?? 0,
      this.freedChannel,
    ];
    for (const spec of req.lines) {
      const template = spec.instance !== spec.budgetId;
      keys.push(
        this.lineKey(spec.instance, spec.period),
        this.prevKey(spec),
        template ? `${this.tag}:inst:${spec.budgetId}:${spec.period}` : this.none,
        ...this.waitKeys(spec),
      );
      argv.push(
        spec.limitNano,
        rolloverCap(spec),
        spec.downgradeAtNano,
        spec.ttlSeconds,
        template ? spec.instance : '',
        lineName(spec),
      );
    }
    // The limits section comes last, its count at the very end (lua/limits.lua).
    const limits = req.limits ?? [];
    argv.push(req.limitAsk?.promptTokens ?? 0, req.limitAsk?.tokensPerCap ?? 1);
    for (const limit of limits) {
      keys.push(this.limitKey(limit.instance));
      // -1: already counted by an earlier attempt of this client request (lua/limits.lua lim_apply).
      argv.push(
        limit.counted ? -1 : limit.requestsPerMinute,
        limit.tokensPerMinute,
        limit.concurrentRequests,
      );
    }
    argv.push(req.lowerOnlyWhenAlone ? 1 : 0, req.holdCap ?? 0, limits.length);
    const reply = await this.redis.script('reserve', keys, argv);
    const result = decodeReserve(reply, req.lines.length, limits.length);
    const drifted = req.lines[driftedLine(reply)];
    if (drifted)
      this.epoch.emit({ type: 'limit_drift', budgetId: drifted.budgetId, sentNano: drifted.limitNano });
    if (result.status === 'reserved') this.settles.reserved(req.reservationId, result.amountNano);
    return result;
  }

  async extend(req: ExtendRequest): Promise<ExtendResult> {
    const keys = [this.resPrefix + req.reservationId, this.leasesKey];
    const argv = [
      req.reservationId,
      req.addCap,
      req.minAddCap,
      req.nowMs,
      req.leaseExpiresAtMs,
      req.tokensPerCap ?? 0,
      req.holdUntilMs ?? 0,
      this.freedChannel,
      req.nextHoldCap ?? 0,
    ];
    return decodeExtend(await this.redis.script('extend', keys, argv));
  }

  async abandonWait(reservationId: string, lines: LineSpec[]): Promise<void> {
    if (lines.length === 0) return;
    const keys = lines.flatMap((spec) => this.waitKeys(spec));
    await this.redis.script('abandon', keys, [reservationId, this.freedChannel, ...lines.map(lineName)]);
  }

  onFreed(listener: (lineKeys: string[]) => void): () => void {
    const entry = (keys: string[]) => listener(keys);
    this.listeners.add(entry);
    this.startSubscriber();
    return () => {
      this.listeners.delete(entry);
    };
  }

  settle(reservationId: string, actualNano: Nano, actualTokens?: number): Promise<SettleResult> {
    return this.settleAt(reservationId, actualNano, actualTokens);
  }

  release(reservationId: string): Promise<SettleResult> {
    return this.settleAt(reservationId, 0, 0);
  }

  async limitUses(limits: LimitSpec[], nowMs: number): Promise<LimitUse[]> {
    if (limits.length === 0) return [];
    const keys = limits.map((l) => this.limitKey(l.instance));
    return decodeLimitUses(await this.redis.script('limitUses', keys, [nowMs]));
  }

  limitKey(instance: string): string {
    return `${this.tag}:lim:${instance}`;
  }

  async balances(lines: LineSpec[]): Promise<LineBalance[]> {
    if (lines.length === 0) return [];
    const keys: string[] = [];
    const argv: number[] = [];
    for (const spec of lines) {
      keys.push(this.lineKey(spec.instance, spec.period), this.prevKey(spec));
      argv.push(spec.limitNano, rolloverCap(spec));
    }
    return decodeBalances(await this.redis.script('balances', keys, argv));
  }

  async renewLeases(ids: string[], nowMs: number, leaseExpiresAtMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const reply = await this.redis.script(
      'renew',
      [this.leasesKey],
      [nowMs, leaseExpiresAtMs, this.resPrefix, ...ids],
    );
    return decodeIds(reply);
  }

  async reapExpired(nowMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = decodeCount(
        await this.redis.script(
          'reap',
          [this.leasesKey],
          [nowMs, REAP_BATCH, this.resPrefix, this.freedChannel],
        ),
      );
      total += n;
      if (n < REAP_BATCH) return total;
    }
  }

  async topUp(line: LineSpec, amountNano: Nano): Promise<LineBalance> {
    const [keys, argv] = this.lineArgs(line);
    return decodeBalance(await this.redis.script('topup', keys, [...argv, line.ttlSeconds, amountNano]));
  }

  async reset(line: LineSpec): Promise<LineBalance> {
    const [keys, argv] = this.lineArgs(line);
    return decodeBalance(await this.redis.script('reset', keys, [...argv, line.ttlSeconds]));
  }

  async claimOnce(
    instance: string,
    period: string,
    name: string,
    ttlSeconds: number,
    nowMs: number,
  ): Promise<boolean> {
    const key = `${this.tag}:claim:${instance}:${period}:${name}`;
    const ttl = Math.max(0, Math.ceil(ttlSeconds));
    return decodeCount(await this.redis.script('claim', [key], [nowMs, ttl])) === 1;
  }

  instances(budgetId: string, period: string): Promise<string[]> {
    return this.redis.call(async (c) => (await c.smembers(`${this.tag}:inst:${budgetId}:${period}`)).sort());
  }

  async ping(): Promise<boolean> {
    try {
      await this.redis.call((c) => c.ping());
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    this.skew.stop();
    this.listeners.clear();
    return this.redis.close(this.subscriber ? [this.subscriber] : []);
  }

  /**
   * A settle of a reservation made before a reset cannot land (its counters are gone): it is
   * announced (logged and counted by the gateway) instead of being a silent no-op, and not retried.
   */
  private async settleAt(reservationId: string, actualNano: Nano, tokens?: number): Promise<SettleResult> {
    if (this.settles.wasLost(reservationId, actualNano)) return { status: 'unknown' };
    const keys = [this.resPrefix + reservationId, this.leasesKey];
    const argv: (string | number)[] = [reservationId, actualNano, this.freedChannel];
    if (tokens !== undefined) argv.push(tokens);
    try {
      const result = decodeSettle(await this.redis.script('settle', keys, argv));
      this.settles.settled(reservationId);
      return result;
    } catch (error) {
      if (error instanceof StoreResetError && this.settles.wasLost(reservationId, actualNano))
        return { status: 'unknown' };
      throw error;
    }
  }

  /** The line's wait queue (sorted set of positions) and its waiters' needs (hash). */
  private waitKeys(spec: LineSpec): [string, string] {
    return [
      `${this.tag}:wait:${spec.instance}:${spec.period}`,
      `${this.tag}:waitn:${spec.instance}:${spec.period}`,
    ];
  }

  /**
   * One subscriber connection per store, for every listener. It queues until connected and
   * resubscribes after a reconnect (ioredis); messages published meanwhile are lost, so each
   * (re)connection tells the listeners "anything may have changed" (an empty list).
   */
  private startSubscriber(): void {
    if (this.subscriber || this.closed) return;
    const subscriber = connectRedis(this.options, this.options.timeoutMs, 'subscriber');
    this.subscriber = subscriber;
    const notify = (keys: string[]) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(keys);
        } catch {
          // a listener's failure is its own
        }
      }
    };
    subscriber.on('message', (_channel: string, message: string) => {
      const keys = decodeFreed(message);
      if (keys) notify(keys);
    });
    subscriber.on('ready', () => notify([]));
    subscriber.subscribe(this.freedChannel).catch(() => {});
  }

  /** KEYS and the first ARGV of the single-line scripts (topup, reset). */
  private lineArgs(spec: LineSpec): [keys: string[], argv: number[]] {
    return [
      [this.lineKey(spec.instance, spec.period), this.prevKey(spec)],
      [spec.limitNano, rolloverCap(spec)],
    ];
  }

  private prevKey(spec: LineSpec): string {
    return spec.previousPeriod === null ? this.none : this.lineKey(spec.instance, spec.previousPeriod);
  }
}

/** The name a freed line is announced by: `${instance}|${period}`. */
function lineName(spec: LineSpec): string {
  return `${spec.instance}|${spec.period}`;
}

/** The rollover cap the scripts see: 0 when there is no previous period to roll from. */
function rolloverCap(spec: LineSpec): number {
  return spec.previousPeriod === null ? 0 : Math.max(0, spec.rolloverMaxNano);
}
