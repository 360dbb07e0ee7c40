/**
 * The one Redis client of the budget, meta and history stores: where Redis is, how a connection
 * behaves, and the one deadline rule every command follows.
 *
 * Command connections fail fast: no offline queue, no resend of commands in flight when the link
 * drops (a resent reserve could apply twice), and a reconnect loop forever in the background. A
 * subscriber connection queues until connected instead.
 *
 * The deadline rule: a call gets `timeoutMs` in all, waiting for a (re)connection included; past it,
 * or on any connection-level failure, it rejects with StoreUnavailableError (`maybeApplied` once the
 * command was sent). Redis errors of the scripts themselves (a bug) keep their own type.
 */
import { Cluster, Redis, ReplyError } from 'ioredis';
import type { ClusterNode } from '../../config/cluster-nodes.js';
import { StoreUnavailableError } from '../types.js';
import type { RedisEpoch } from './epoch.js';
import { type ScriptName, scripts } from './scripts.js';

export interface RedisTarget {
  /** redis://host:port/db; used when clusterNodes is absent. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Seed nodes of a Redis Cluster; when given, `url` is ignored. */
  clusterNodes?: readonly ClusterNode[];
}

export interface RedisClientOptions extends RedisTarget {
  /** Bound on every call, waiting for a (re)connection included. */
  timeoutMs: number;
  /** Names the store in error messages ("redis store", "redis history"). */
  label?: string;
  /** Scripts this client runs with `script()` (defined once, EVALSHA with EVAL on NOSCRIPT). */
  scripts?: readonly ScriptName[];
  /** The deployment epoch the epoch-checked scripts are given and whose 'reset' answers it handles. */
  epoch?: RedisEpoch;
}

export type Connection = Redis | Cluster;

const RECONNECT_MAX_DELAY_MS = 1000;

export function connectRedis(
  target: RedisTarget,
  timeoutMs: number,
  mode: 'commands' | 'subscriber' = 'commands',
): Connection {
  const retry = (times: number) => Math.min(50 * times, RECONNECT_MAX_DELAY_MS);
  const subscriber = mode === 'subscriber';
  const connectTimeout = Math.max(timeoutMs, 1000);
  const common = subscriber
    ? { connectTimeout }
    : {
        enableAutoPipelining: true,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        connectTimeout,
      };
  const client: Connection = target.clusterNodes
    ? new Cluster([...target.clusterNodes], {
        enableAutoPipelining: !subscriber,
        enableOfflineQueue: subscriber,
        clusterRetryStrategy: retry,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 4,
        redisOptions: common,
      })
    : new Redis(target.url ?? 'redis://127.0.0.1:6379', {
        ...common,
        enableOfflineQueue: subscriber,
        retryStrategy: retry,
      });
  // Errors surface per operation; without a listener ioredis would print every reconnect failure.
  client.on('error', () => {});
  return client;
}

function isReset(reply: unknown): reply is [string, unknown, unknown] {
  return Array.isArray(reply) && reply[0] === 'reset' && reply.length === 3;
}

/** The ioredis command name of a script (kept off the names of real Redis commands). */
function commandOf(name: ScriptName): string {
  return `gw${name[0]!.toUpperCase()}${name.slice(1)}`;
}

export class RedisClient {
  readonly connection: Connection;
  private readonly timeoutMs: number;
  private readonly label: string;
  private closed = false;
  private readyWait: Promise<void> | undefined;
  private readonly epoch: RedisEpoch | undefined;

  constructor(options: RedisClientOptions) {
    this.timeoutMs = options.timeoutMs;
    this.epoch = options.epoch;
    this.label = options.label ?? 'redis store';
    this.connection = connectRedis(options, options.timeoutMs);
    const sources = scripts();
    for (const name of options.scripts ?? []) {
      this.connection.defineCommand(commandOf(name), sources[name]);
    }
  }

  /**
   * Runs one script (defined at construction) under the deadline rule; the raw reply. An
   * epoch-checked script gets the epoch last; its 'reset' answer throws StoreResetError, or, when
   * it announces the operator's recovery of the epoch this instance knew, runs once more under it.
   */
  async script(
    name: ScriptName,
    keys: readonly string[],
    argv: ReadonlyArray<string | number>,
  ): Promise<unknown> {
    const command = (this.connection as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[
      commandOf(name)
    ];
    if (!command) throw new Error(`redis script ${name} was not defined on this client`);
    const epoch = scripts()[name].epoch ? this.epoch : undefined;
    // The preamble takes the last two ARGV: without them it would eat the script's own.
    if (scripts()[name].epoch && !epoch) throw new Error(`redis script ${name} needs the deployment epoch`);
    if (epoch) await epoch.ensureStarted(() => this.startEpoch(epoch));
    const run = () =>
      this.call((c) =>
        command.call(c, keys.length, ...keys, ...argv.map(String), ...(epoch ? epoch.argv() : [])),
      );
    const reply = await run();
    if (!epoch || !isReset(reply)) return reply;
    const answer = epoch.onResetReply({ epoch: String(reply[1]), marker: String(reply[2]) });
    if (answer === 'mark') {
      const reason = `the epoch was re-created (${String(reply[1])}) while this instance knew ${epoch.current() || 'none'}: a Redis reset nobody recovered`;
      await this.script('epoch', [epoch.key, epoch.markerKey], ['mark', reason]);
      return epoch.marked(reason);
    }
    const again = await run();
    if (isReset(again)) return epoch.marked(String(again[2]) || 'the epoch changed again while adopting it');
    return again;
  }

  /** epoch.lua 'init': adopt the deployment's epoch, or create it on a fresh deployment. */
  private async startEpoch(epoch: RedisEpoch): Promise<void> {
    const reply = await this.script('epoch', [epoch.key, epoch.markerKey], ['init', epoch.nextValue(false)]);
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error('redis epoch: malformed reply');
    epoch.started({ epoch: String(reply[0]), marker: String(reply[1]) });
  }

  /** Runs one command under the deadline rule (see the module comment). */
  async call<T>(command: (connection: Connection) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`${this.label} is closed`);
    const deadline = Date.now() + this.timeoutMs;
    // Once sent, a command that times out may still run on the server (Redis was busy, the answer
    // slow): callers are told, so a reservation that lands late is released rather than orphaned.
    let sent = false;
    try {
      if (this.connection.status !== 'ready') await this.withDeadline(this.whenReady(), this.timeoutMs);
      sent = true;
      return await this.withDeadline(command(this.connection), Math.max(1, deadline - Date.now()));
    } catch (err) {
      if (err instanceof ReplyError && /^(ERR|WRONGTYPE)/.test((err as Error).message)) throw err;
      const message =
        err instanceof StoreUnavailableError
          ? err.message
          : `${this.label} unavailable: ${(err as Error).message}`;
      throw new StoreUnavailableError(message, { cause: err, maybeApplied: sent });
    }
  }

  /** Closes this client and `others` (e.g. a subscriber), each within the timeout. */
  async close(others: readonly Connection[] = []): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      [this.connection, ...others].map(async (connection) => {
        try {
          await this.withDeadline(connection.quit(), this.timeoutMs);
        } catch {
          connection.disconnect();
        }
      }),
    );
  }

  /** One shared wait for 'ready' (not one listener per caller during an outage). */
  private whenReady(): Promise<void> {
    const client = this.connection;
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end') return Promise.reject(new Error('connection closed'));
    this.readyWait ??= new Promise<void>((resolve, reject) => {
      const onReady = () => {
        client.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        client.off('ready', onReady);
        reject(new Error('connection closed'));
      };
      client.once('ready', onReady);
      client.once('end', onEnd);
    }).finally(() => {
      this.readyWait = undefined;
    });
    return this.readyWait;
  }

  /** Rejects with StoreUnavailableError after ms, leaving `promise` to settle (and be ignored) later. */
  private withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`${this.label} timed out after ${ms} ms`)),
        ms,
      );
    });
    promise.catch(() => {});
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
