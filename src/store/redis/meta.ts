/**
 * API-made budgets and keys in Redis, beside the counters and under the same hash tag:
 *   {p}:meta:budgets   hash id -> JSON
 *   {p}:meta:keys      hash id -> JSON
 *   {p}:meta:version   integer, bumped by every write (in the same script)
 *   {p}:meta:changed   pub/sub channel: the new version, published after each write
 * Instances subscribe to the channel and also poll the version (a message lost while a
 * subscriber reconnects must not leave an instance on old keys or budgets for long).
 */
import type { Cluster, Redis } from 'ioredis';
import { META_PUT_LUA, META_REMOVE_LUA, META_SNAPSHOT_LUA } from './lua/meta.js';
import { type MetaKind, type MetaSnapshot, type MetaStore, type PutMode, parseRecord } from './meta.js';
import { connectRedis, type RedisTarget } from './redis-connection.js';
import { StoreUnavailableError } from './types.js';

export interface RedisMetaStoreOptions extends RedisTarget {
  prefix: string;
  timeoutMs: number;
  pollIntervalMs?: number;
}

interface MetaCommands {
  gwMetaPut(numKeys: number, ...args: string[]): Promise<number>;
  gwMetaRemove(numKeys: number, ...args: string[]): Promise<number>;
  gwMetaSnapshot(numKeys: number, ...args: string[]): Promise<[number, string[], string[]]>;
}

type Client = (Redis | Cluster) & MetaCommands;

export class RedisMetaStore implements MetaStore {
  readonly kind = 'redis' as const;
  readonly pollIntervalMs: number;
  private readonly client: Client;
  private subscriber: Redis | Cluster | undefined;
  private readonly listeners = new Set<(version: number | null) => void>();
  private readonly timeoutMs: number;
  private readonly keys: { budgets: string; keys: string; version: string; channel: string };
  private closed = false;
  private readyWait: Promise<void> | undefined;

  constructor(private readonly options: RedisMetaStoreOptions) {
    this.timeoutMs = options.timeoutMs;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    const tag = `{${options.prefix}}`;
    this.keys = {
      budgets: `${tag}:meta:budgets`,
      keys: `${tag}:meta:keys`,
      version: `${tag}:meta:version`,
      channel: `${tag}:meta:changed`,
    };
    const client = this.connect(false);
    client.defineCommand('gwMetaPut', { lua: META_PUT_LUA });
    client.defineCommand('gwMetaRemove', { lua: META_REMOVE_LUA });
    client.defineCommand('gwMetaSnapshot', { lua: META_SNAPSHOT_LUA, readOnly: true });
    this.client = client as Client;
  }

  async version(): Promise<number> {
    return Number((await this.call(() => this.client.get(this.keys.version))) ?? 0);
  }

  async snapshot(): Promise<MetaSnapshot> {
    const [version, budgets, keys] = await this.call(() =>
      this.client.gwMetaSnapshot(3, this.keys.version, this.keys.budgets, this.keys.keys),
    );
    return { version: Number(version), budgets: pairs(budgets), keys: pairs(keys) };
  }

  async put(kind: MetaKind, id: string, value: unknown, mode: PutMode): Promise<number | null> {
    const version = await this.call(() =>
      this.client.gwMetaPut(2, this.keys[kind], this.keys.version, id, JSON.stringify(value), mode),
    );
    return this.announce(version);
  }

  async remove(kind: MetaKind, id: string): Promise<number | null> {
    const version = await this.call(() =>
      this.client.gwMetaRemove(2, this.keys[kind], this.keys.version, id),
    );
    return this.announce(version);
  }

  subscribe(onChange: (version: number | null) => void): () => void {
    this.listeners.add(onChange);
    this.startSubscriber();
    return () => {
      this.listeners.delete(onChange);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    const clients = [this.client, this.subscriber].filter((c) => c !== undefined);
    await Promise.all(
      clients.map(async (client) => {
        try {
          await withDeadline(client.quit(), this.timeoutMs);
        } catch {
          client.disconnect();
        }
      }),
    );
  }

  /** Tells the other instances (best effort: they poll too); maps the scripts' 0 to null. */
  private async announce(version: number): Promise<number | null> {
    if (!version) return null;
    await this.client.publish(this.keys.channel, String(version)).catch(() => {});
    return version;
  }

  private startSubscriber(): void {
    if (this.subscriber || this.closed) return;
    const subscriber = this.connect(true);
    this.subscriber = subscriber;
    const notify = (version: number | null) => {
      for (const listener of this.listeners) listener(version);
    };
    subscriber.on('message', (_channel: string, message: string) => {
      const version = Number(message);
      notify(Number.isSafeInteger(version) ? version : null);
    });
    // After a reconnect, messages sent meanwhile are gone: check the version once.
    subscriber.on('ready', () => notify(null));
    subscriber.subscribe(this.keys.channel).catch(() => {});
  }

  /** Commands fail fast like the budget store's; the subscriber queues until connected and resubscribes. */
  private connect(subscriber: boolean): Redis | Cluster {
    return connectRedis(this.options, this.timeoutMs, subscriber ? 'subscriber' : 'commands');
  }

  /** One shared wait for 'ready' (not a listener per caller during an outage). */
  private whenReady(): Promise<void> {
    this.readyWait ??= ready(this.client).finally(() => {
      this.readyWait = undefined;
    });
    return this.readyWait;
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('redis store is closed');
    try {
      if (this.client.status !== 'ready') await withDeadline(this.whenReady(), this.timeoutMs);
      return await withDeadline(command(), this.timeoutMs);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`redis store unavailable: ${(err as Error).message}`, { cause: err });
    }
  }
}

function pairs(flat: string[]): Array<{ id: string; value: unknown }> {
  const out: Array<{ id: string; value: unknown }> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, value: parseRecord(flat[i + 1]!) });
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function ready(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('connection closed'));
  return new Promise((resolve, reject) => {
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
  });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`redis store timed out after ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
